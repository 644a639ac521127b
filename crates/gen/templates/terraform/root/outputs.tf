# {{ header }}
{%- for o in outputs %}

output "{{ o.0 }}" {
  description = {{ o.1|hcl }}
  value       = module.pipeline.{{ o.0 }}
}
{%- endfor %}
