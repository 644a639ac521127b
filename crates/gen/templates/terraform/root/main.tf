# {{ header }}
#
# The {{ what }}: the provider is in providers.tf{% if backend %}, the state in backend.tf{% endif %};
# here the pipeline, a module (./stack) taking this root's inputs.

module "pipeline" {
  source = "./stack"
{% for v in inputs %}
  {{ v.key }}{{ v.pad }} = var.{{ v.key }}
{%- endfor %}
}
{%- if !moved.is_empty() %}

# Stacks generated before the pipeline became a module kept these at the root: the moves carry their state
# over, so the upgrade plans no replacement.
{%- for m in moved %}

moved {
  from = {{ m }}
  to   = module.pipeline.{{ m }}
}
{%- endfor %}
{%- endif %}
