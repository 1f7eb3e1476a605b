{#- Quota per rep and quarter (DEFINITIONS.md "Advocates and reps"): Salesforce
    ForecastingQuota when the table has rows (QuotaAmount converted at the rate of its
    StartDate; period = the quarter containing StartDate), else the rep_quotas seed (rep
    matched by email to the Salesforce user). Several quota rows in one quarter add up. -#}
with forecasting as (
    select
        quota_id                                  as row_id,
        user_id,
        start_date,
        quota_amount,
        currency_code
    from {{ ref('stg_salesforce__forecasting_quotas') }}
    where is_amount
),

seeded as (
    select
        'seed:' || lower(trim(q.rep_email)) || ':' || cast(q.period_start as varchar) as row_id,
        u.user_id,
        q.period_start                            as start_date,
        q.amount                                  as quota_amount,
        nullif(upper(trim(q.currency)), '')       as currency_code
    from {{ ref('rep_quotas') }} as q
    inner join {{ ref('stg_salesforce__users') }} as u on u.email_normalized = lower(trim(q.rep_email))
),

chosen as (
    select *, 'salesforce_forecasting_quota' as quota_source from forecasting
    union all
    select *, 'rep_quotas_seed' from seeded
    where not exists (select 1 from forecasting)
),

{{ convert_to_reporting('chosen', 'currency_code', 'start_date') }}

select
    user_id,
    {{ period_start('start_date', 'quarter') }}      as period_start,
    min(quota_source)                                as quota_source,
    sum(quota_amount / conversion_rate)              as quota_amount,
    sum(case when is_currency_known then 0 else 1 end) as n_unknown_currency_rows
from chosen_converted
where user_id is not null
group by user_id, {{ period_start('start_date', 'quarter') }}
