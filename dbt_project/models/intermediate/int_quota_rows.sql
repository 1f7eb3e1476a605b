{#- Every quota row that feeds int_rep_quotas (DEFINITIONS.md "Advocates and reps"), converted
    to the reporting currency at the rate of its StartDate, with start_date <= as_of:
      * Salesforce ForecastingQuota (amount quotas, IsAmount) of ONE forecasting type: var
        quota_forecasting_type_id, or, when that var is null, the type with the most amount
        quota rows (ties: the smallest id; a null type counts as a type of its own). Quotas of
        several forecasting types (e.g. opportunity revenue and product revenue) measure the
        same targets differently and must not add up.
      * else (no ForecastingQuota row at all) the rep_quotas seed, rep matched by email to the
        Salesforce user. A seed row whose email matches no user is kept with a null user_id:
        int_rep_quotas leaves it out and data_quality counts it (unmatched_seed_quotas), so a
        typo in the seed is never dropped silently.
    is_currency_known = false: no rate for the quota's currency (or the reporting currency):
    quota_amount is null, int_rep_quotas leaves the row out and data_quality counts it. -#}
{%- set chosen_type = var('quota_forecasting_type_id', none) -%}
with amount_quotas as (
    select *
    from {{ ref('stg_salesforce__forecasting_quotas') }}
    where is_amount
),

type_counts as (
    select
        coalesce(forecasting_type_id, '') as forecasting_type_key,
        count(*)                          as n_rows
    from amount_quotas
    group by coalesce(forecasting_type_id, '')
),

chosen_type as (
    {%- if chosen_type is not none and (chosen_type | string | trim) not in ('', 'None', 'none', 'null') %}
    select '{{ chosen_type | string | trim }}' as forecasting_type_key
    {%- else %}
    select forecasting_type_key
    from (
        select
            forecasting_type_key,
            row_number() over (order by n_rows desc, forecasting_type_key) as pick
        from type_counts
    ) as ranked
    where pick = 1
    {%- endif %}
),

forecasting as (
    select
        q.quota_id                                as row_id,
        q.user_id,
        q.start_date,
        q.quota_amount,
        q.currency_code,
        q.forecasting_type_id
    from amount_quotas as q
    inner join chosen_type as t on t.forecasting_type_key = coalesce(q.forecasting_type_id, '')
),

seeded as (
    select
        'seed:' || {{ normalize_email('q.rep_email') }} || ':' || cast(q.period_start as {{ dbt.type_string() }}) as row_id,
        u.user_id,
        q.period_start                            as start_date,
        q.amount                                  as quota_amount,
        nullif(upper(trim(q.currency)), '')       as currency_code,
        cast(null as {{ dbt.type_string() }})                     as forecasting_type_id
    from {{ ref('rep_quotas') }} as q
    left join {{ ref('stg_salesforce__users') }} as u on u.email_normalized = {{ normalize_email('q.rep_email') }}
),

chosen as (
    select *, 'salesforce_forecasting_quota' as quota_source from forecasting
    where start_date <= {{ as_of_date() }}
    union all
    select *, 'rep_quotas_seed' from seeded
    where not exists (select 1 from amount_quotas)
      and start_date <= {{ as_of_date() }}
),

{{ convert_to_reporting('chosen', 'currency_code', 'start_date') }}

select
    row_id,
    user_id,
    quota_source,
    forecasting_type_id,
    start_date,
    {{ period_start('start_date', 'quarter') }}                            as period_start,
    quota_amount                                                           as quota_amount_original,
    coalesce(currency_code, '{{ reporting_currency() }}')                  as currency_code,
    conversion_rate,
    is_currency_known,
    case when is_currency_known then quota_amount / conversion_rate end    as quota_amount
from chosen_converted
