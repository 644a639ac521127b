# {{ header }}
#
# The provider, configured here and only here: ./stack is a module that a root of your own can call instead
# (with its own provider, e.g. assuming a role into the pipeline's account).

provider "aws" {
  region = var.region
{%- if !tags.is_empty() %}

  default_tags {
    tags = {
{%- for t in tags %}
      {{ t.key }}{{ t.pad }} = {{ t.value }}
{%- endfor %}
    }
  }
{%- endif %}
}
