# {{ header }}

variable "name" {
  description = "The pipeline's name: the topic's, its key alias's and the dashboard's."
  type        = string
}

variable "emails" {
  description = "E-mail addresses subscribed to the alarms' topic ([alerts] emails in pipeline.toml)."
  type        = list(string)
}

variable "sns_topic_arn" {
  description = "An existing standard SNS topic to publish to ([alerts] sns_topic_arn), or null to create one."
  type        = string
}

variable "alarms" {
  description = "The pipeline's metric alarms by name: metric, dimensions, statistic (or extended statistic), threshold and the missing-data policy."
  type = map(object({
    description         = string
    namespace           = string
    metric_name         = string
    dimensions          = map(string)
    statistic           = string
    extended_statistic  = string
    period              = number
    evaluation_periods  = number
    datapoints_to_alarm = number
    threshold           = number
    comparison_operator = string
    treat_missing_data  = string
  }))
}

variable "client_error_rate" {
  description = "The API's 4XX rate alarm: the percent of requests answered 4XX above which it fires, once a period has min_requests requests."
  type = object({
    name                = string
    description         = string
    api_name            = string
    stage               = string
    percent             = number
    min_requests        = number
    period              = number
    evaluation_periods  = number
    datapoints_to_alarm = number
  })
}
