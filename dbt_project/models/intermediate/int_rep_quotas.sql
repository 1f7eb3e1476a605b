{#- Quota per rep and fiscal quarter (DEFINITIONS.md "Advocates and reps") in the reporting
    currency: the quota rows of int_quota_rows (ForecastingQuota of one forecasting type, else
    the rep_quotas seed) whose currency converts; several rows of one rep and quarter add up.
    A row in an unknown currency is left out (never summed as null, which would understate
    the quota and inflate attainment) and counted in data_quality (unknown_currency_quotas). -#}
select
    user_id,
    period_start,
    min(quota_source)                                as quota_source,
    sum(quota_amount)                                as quota_amount,
    count(*)                                         as n_quota_rows
from {{ ref('int_quota_rows') }}
where user_id is not null
  and is_currency_known
group by user_id, period_start
