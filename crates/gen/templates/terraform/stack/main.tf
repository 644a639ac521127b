# {{ header }}
#
# The pipeline {{ name|hcl }} as a module: every value below comes from pipeline.toml; the modules under
# ../modules/ take them through typed variables. Maps are keyed by the logical names of pipeline.toml. It
# configures no provider: the root that calls it does (../providers.tf), or your own Terraform does.

locals {
  # The customer-managed key encrypting the streams, queues, tables, secret and log groups (kms_key in
  # pipeline.toml), or null for each service's AWS-managed key.
  kms_key_arn = {{ kms_key_expression }}

  writer_zip_path = coalesce(var.writer_zip_path, "{{ lambda_dir.expression }}/writer/bootstrap.zip")
{%- if auth.is_some() %}

  authorizer_zip_path = coalesce(var.authorizer_zip_path, "{{ lambda_dir.expression }}/authorizer/bootstrap.zip")
{%- endif %}
{%- if !custom_functions.is_empty() %}

  # Your functions ([functions.<name>] with a crate), each built by `cargo xtask build` into its own zip.
  function_zip_paths = {
{%- for f in custom_functions %}
    {{ f.key|hcl }} = coalesce(lookup(var.function_zip_paths, {{ f.key|hcl }}, null), "{{ lambda_dir.expression }}/{{ f.key }}/bootstrap.zip")
{%- endfor %}
  }

  # The consumers that run one of your functions: which, and the tables it may write (its IAM policy
  # allows PutItem on exactly these; the function reads them from SLUICE_TABLES).
  consumer_functions = {
{%- for c in consumers %}
{%- if let Some(f) = c.function %}
    {{ c.key|hcl }} = {
      function = {{ f|hcl }}
      tables   = [{% for t in c.tables %}{{ t|hcl }}{% if !loop.last %}, {% endif %}{% endfor %}]
    }
{%- endif %}
{%- endfor %}
  }
{%- endif %}

  functions = {
    authorizer = {
      architecture         = "{{ authorizer_function.architecture }}"
      memory_mb            = {{ authorizer_function.memory_mb }}
      timeout_seconds      = {{ authorizer_function.timeout_seconds }}
      reserved_concurrency = {{ authorizer_function.reserved_concurrency }}
      log_retention_days   = {{ authorizer_function.log_retention_days }}
    }
    writer = {
      architecture         = "{{ writer_function.architecture }}"
      memory_mb            = {{ writer_function.memory_mb }}
      timeout_seconds      = {{ writer_function.timeout_seconds }}
      reserved_concurrency = {{ writer_function.reserved_concurrency }}
      log_retention_days   = {{ writer_function.log_retention_days }}
    }
{%- for f in custom_functions %}
    {{ f.key|hcl }} = {
      architecture         = "{{ f.settings.architecture }}"
      memory_mb            = {{ f.settings.memory_mb }}
      timeout_seconds      = {{ f.settings.timeout_seconds }}
      reserved_concurrency = {{ f.settings.reserved_concurrency }}
      log_retention_days   = {{ f.settings.log_retention_days }}
    }
{%- endfor %}
  }

  streams = {
{%- for s in streams %}
    {{ s.key|hcl }} = {
      name            = {{ s.name|hcl }}
      mode            = "{{ s.mode }}"
      shard_count     = {{ s.shard_count }}
      retention_hours = {{ s.retention_hours }}
      kms_key_arn     = {{ s.kms_key_arn }}
    }
{%- endfor %}
  }

  tables = {
{%- for t in tables %}
    {{ t.key|hcl }} = {
      name                   = {{ t.name|hcl }}
      billing_mode           = "{{ t.billing_mode }}"
      read_capacity          = {{ t.read_capacity }}
      write_capacity         = {{ t.write_capacity }}
      partition_key          = { name = {{ t.partition_key.name|hcl }}, type = "{{ t.partition_key.kind }}" }
{%- match t.sort_key %}
{%- when Some with (k) %}
      sort_key               = { name = {{ k.name|hcl }}, type = "{{ k.kind }}" }
{%- when None %}
      sort_key               = null
{%- endmatch %}
      point_in_time_recovery = {{ t.point_in_time_recovery }}
      ttl_attribute          = {{ t.ttl_attribute }}
      deletion_protection    = {{ t.deletion_protection }}
    }
{%- endfor %}
  }

  queues = {
{%- for q in queues %}
    {{ q.key|hcl }} = {
      name                      = {{ q.name|hcl }}
      message_retention_seconds = {{ q.message_retention_seconds }}
      max_message_size          = {{ q.max_message_size }}
    }
{%- endfor %}
  }

  consumers = {
{%- for c in consumers %}
    {{ c.key|hcl }} = {
      function_name              = {{ c.function_name|hcl }}
      stream                     = {{ c.stream|hcl }}
      table                      = {{ c.table|hcl }}
      dead_letter_queue          = {{ c.dead_letter_queue|hcl }}
      batch_size                 = {{ c.batch_size }}
      batching_window_seconds    = {{ c.batching_window_seconds }}
      starting_position          = "{{ c.starting_position }}"
      retry_attempts             = {{ c.retry_attempts }}
      maximum_record_age_seconds = {{ c.maximum_record_age_seconds }}
      bisect_on_error            = {{ c.bisect_on_error }}
      parallelization_factor     = {{ c.parallelization_factor }}
      filter_patterns            = {{ c.filter_patterns }}
      environment = {
{%- for e in c.environment %}
        {{ e.key }}{{ e.pad }} = {{ e.value }}
{%- endfor %}
      }
    }
{%- endfor %}
  }

  # The streams some route writes to: the API's integration role may put records into these and no others.
  routed_streams = [{% for s in routed_streams %}{{ s|hcl }}{% if !loop.last %}, {% endif %}{% endfor %}]
}

{%- if kms_create %}

module "kms" {
  source = "../modules/kms"

  name = {{ name|hcl }}
}
{%- endif %}

module "stream" {
  source   = "../modules/stream"
  for_each = local.streams

  stream = each.value
}

module "table" {
  source   = "../modules/table"
  for_each = local.tables

  table       = each.value
  kms_key_arn = local.kms_key_arn
}

module "queue" {
  source   = "../modules/queue"
  for_each = local.queues

  queue       = each.value
  kms_key_arn = local.kms_key_arn
}

# Each dead-letter queue takes messages from the writers that use it (their execution roles also carry the
# event source mapping's on-failure destination) and only over TLS. Here rather than in modules/queue: the
# policy names the writers' roles, and the writers need the queue first.
locals {
  dead_letter_senders = {
    for name in keys(local.queues) : name => [for key, consumer in local.consumers : module.consumer[key].role_arn if consumer.dead_letter_queue == name]
  }
}

data "aws_iam_policy_document" "dead_letter_queue" {
  for_each = local.queues

  dynamic "statement" {
    for_each = length(local.dead_letter_senders[each.key]) == 0 ? [] : [local.dead_letter_senders[each.key]]
    content {
      sid       = "WritersSendDeadLetters"
      actions   = ["sqs:SendMessage"]
      resources = [module.queue[each.key].queue_arn]

      principals {
        type        = "AWS"
        identifiers = statement.value
      }
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [module.queue[each.key].queue_arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "dead_letter_queue" {
  for_each = local.queues

  queue_url = module.queue[each.key].queue_url
  policy    = data.aws_iam_policy_document.dead_letter_queue[each.key].json
}

module "consumer" {
  source   = "../modules/consumer"
  for_each = local.consumers

  consumer    = each.value
{%- if custom_functions.is_empty() %}
  function    = local.functions.writer
  zip_path    = local.writer_zip_path
{%- else %}
  function    = local.functions[try(local.consumer_functions[each.key].function, "writer")]
  zip_path    = try(local.function_zip_paths[local.consumer_functions[each.key].function], local.writer_zip_path)
  description = try("Runs function ${local.consumer_functions[each.key].function} on the records of a Kinesis stream.", null)
  write_tables = try([for t in local.consumer_functions[each.key].tables : {
    name = module.table[t].table_name
    arn  = module.table[t].table_arn
  }], null)
{%- endif %}
  environment = each.value.environment
  kms_key_arn = local.kms_key_arn
  tracing     = {{ xray_tracing }}
  stream = {
    name        = module.stream[each.value.stream].stream_name
    arn         = module.stream[each.value.stream].stream_arn
    kms_key_arn = module.stream[each.value.stream].kms_key_arn
  }
  table = {
    name = module.table[each.value.table].table_name
    arn  = module.table[each.value.table].table_arn
  }
  dead_letter_queue = {
    arn  = module.queue[each.value.dead_letter_queue].queue_arn
    url  = module.queue[each.value.dead_letter_queue].queue_url
    name = module.queue[each.value.dead_letter_queue].queue_name
  }
  dead_letter_bucket = {
    name = module.dead_letter_bucket.bucket_name
    arn  = module.dead_letter_bucket.bucket_arn
  }
}

# The data of dead letters too large for their queue (one bucket for the pipeline). Its policy names the
# writers' roles, which is why they are passed in here.
module "dead_letter_bucket" {
  source = "../modules/dead_letter_bucket"

  bucket = {
    name_prefix     = {{ dead_letter_bucket.name_prefix|hcl }}
    expiration_days = {{ dead_letter_bucket.expiration_days }}
  }
  writer_role_arns = [for consumer in module.consumer : consumer.role_arn]
  kms_key_arn      = local.kms_key_arn
}
{%- match auth %}
{%- when Some with (a) %}

module "auth" {
  source = "../modules/auth"

  function    = local.functions.authorizer
  zip_path    = local.authorizer_zip_path
  kms_key_arn = local.kms_key_arn
  tracing     = {{ xray_tracing }}
  auth = {
    function_name                   = {{ a.function_name|hcl }}
    secret_name                     = {{ a.secret_name|hcl }}
    username                        = {{ a.username|hcl }}
    cache_ttl_seconds               = {{ a.cache_ttl_seconds }}
    password_length                 = {{ a.password_length }}
    password_version                = {{ a.password_version }}
    previous_password_grace_seconds = {{ a.previous_password_grace_seconds }}
    recovery_window_in_days         = var.credentials_recovery_window_days
    readers                         = distinct(concat(var.deployers, var.credentials_readers))
  }
}
{%- when None %}
{%- endmatch %}

{%- match waf %}
{%- when Some with (w) %}

module "waf" {
  source = "../modules/waf"

  waf = {
    name               = {{ name|hcl }}
    rate_limit         = {{ w.rate_limit }}
    throttled_body     = {{ w.throttled_body|hcl }}
    log_retention_days = {{ api.access_log_retention_days }}
  }
  kms_key_arn = local.kms_key_arn
}
{%- when None %}
{%- endmatch %}

module "api" {
  source = "../modules/api"

  api = {
    name                      = {{ api.name|hcl }}
    stage                     = {{ api.stage|hcl }}
    access_log_retention_days = {{ api.access_log_retention_days }}
    throttle_rate_limit       = {{ api.throttle_rate_limit }}
    throttle_burst_limit      = {{ api.throttle_burst_limit }}
    manage_account            = {{ api.manage_account }}
{%- if api.manage_account %}
    reset_account_on_destroy  = var.reset_api_gateway_account_on_destroy
{%- else %}
    reset_account_on_destroy  = false
{%- endif %}
    xray_tracing              = {{ xray_tracing }}
  }
  kms_key_arn         = local.kms_key_arn
  web_acl             = {% if waf.is_some() %}{ arn = module.waf.web_acl_arn }{% else %}null{% endif %}
  stream_arns         = [for name in local.routed_streams : module.stream[name].stream_arn]
  stream_kms_key_arns = distinct(compact([for name in local.routed_streams : module.stream[name].kms_key_arn]))
{%- if auth.is_some() %}
  authorizer = {
    function_name = module.auth.function_name
    invoke_arn    = module.auth.invoke_arn
  }
{%- else %}
  authorizer          = null
{%- endif %}
}

# Alarms on every part of the pipeline, each publishing its alarm and its return to OK to one SNS topic, and
# one dashboard (docs/ALARMS.md: what each alarm means and the first thing to do). Thresholds come from
# pipeline.toml where a setting sets the limit: a stream's retention, a consumer's maximum record age, a
# queue's retention.
module "alerts" {
  source = "../modules/alerts"

  name          = {{ name|hcl }}
  emails        = [{% for e in alerts.emails %}{{ e|hcl }}{% if !loop.last %}, {% endif %}{% endfor %}]
  sns_topic_arn = {{ alerts.sns_topic_arn }}

  alarms = {
{%- for a in alarms %}
    {{ a.name|hcl }} = {
      description         = {{ a.description|hcl }}
      namespace           = {{ a.namespace|hcl }}
      metric_name         = {{ a.metric_name|hcl }}
      dimensions          = { {% for d in a.dimensions %}{{ d.key }} = {{ d.value }}{% if !loop.last %}, {% endif %}{% endfor %} }
      statistic           = {{ a.statistic }}
      extended_statistic  = {{ a.extended_statistic }}
      period              = {{ a.period }}
      evaluation_periods  = {{ a.evaluation_periods }}
      datapoints_to_alarm = {{ a.datapoints_to_alarm }}
      threshold           = {{ a.threshold }}
      comparison_operator = "{{ a.comparison }}"
      treat_missing_data  = "{{ a.treat_missing_data }}"
    }
{%- endfor %}
  }

  client_error_rate = {
    name                = {{ rate.name|hcl }}
    description         = {{ rate.description|hcl }}
    api_name            = {{ rate.api_name|hcl }}
    stage               = module.api.stage_name
    percent             = {{ rate.threshold }}
    min_requests        = {{ rate.min_requests }}
    period              = {{ rate.period }}
    evaluation_periods  = {{ rate.evaluation_periods }}
    datapoints_to_alarm = {{ rate.datapoints_to_alarm }}
  }
}
