{#- Paid-equivalent and earned media value of advocacy per period x network, in the reporting
    currency. Each post is valued by int_advocacy_post_values (the network_values row valid on
    its posted date, converted from the seed's currency at that date's rate):
    paid_equivalent_value = clicks x cpc, earned_media_value = engagements x
    eemv_per_engagement. cpc / eemv_per_engagement shown are the effective (click- and
    engagement-weighted) values, else the seed value valid at period start converted at that
    date's rate. advocacy_sessions from GA4's daily report. -#}
with valued as (
    select * from {{ ref('int_advocacy_post_values') }}
),

valued_periods as (
    {{ fan_out_periods('valued', 'valued.activity_date') }}
),

post_totals as (
    select period_grain, period_start, network,
           sum(clicks) as clicks, sum(engagements) as engagements,
           sum(paid_equivalent_value) as paid_equivalent_value,
           sum(earned_media_value) as earned_media_value,
           -- the effective rates divide by the clicks / engagements that have a value
           sum(case when paid_equivalent_value is not null then clicks end)   as valued_clicks,
           sum(case when earned_media_value is not null then engagements end) as valued_engagements
    from valued_periods
    group by period_grain, period_start, network
),

traffic as (
    select session_date as activity_date, coalesce(network, '(unknown)') as network, sessions
    from {{ ref('int_ga4_traffic') }}
    where segment = 'advocacy'
),

traffic_periods as (
    {{ fan_out_periods('traffic', 'traffic.activity_date') }}
),

traffic_totals as (
    select period_grain, period_start, network, sum(sessions) as advocacy_sessions
    from traffic_periods
    group by period_grain, period_start, network
),

keys as (
    select period_grain, period_start, network from post_totals
    union
    select period_grain, period_start, network from traffic_totals
),

period_values as (
    select
        k.period_grain || '|' || cast(k.period_start as {{ dbt.type_string() }}) || '|' || k.network as row_id,
        k.period_grain,
        k.period_start,
        k.network,
        v.cpc,
        v.eemv_per_engagement,
        nullif(upper(trim(v.currency)), '')                                      as value_currency
    from keys as k
    left join {{ ref('network_values') }} as v
        on lower(trim(v.network)) = k.network
       and v.valid_from <= k.period_start
       and (v.valid_to is null or k.period_start < v.valid_to)
),

{{ convert_to_reporting('period_values', 'value_currency', 'period_start') }}

select
    cast(k.period_grain as {{ dbt.type_string() }})                    as period_grain,
    cast(k.period_start as date)                       as period_start,
    cast(k.network as {{ dbt.type_string() }})                         as network,
    cast(coalesce(p.clicks, 0) as bigint)              as clicks,
    cast(coalesce(t.advocacy_sessions, 0) as bigint)   as advocacy_sessions,
    cast(coalesce({{ safe_divide('p.paid_equivalent_value', 'p.valued_clicks') }},
                  v.cpc / v.conversion_rate) as {{ type_double() }})                 as cpc,
    cast(coalesce(p.paid_equivalent_value, 0) as {{ type_double() }})                as paid_equivalent_value,
    cast(coalesce(p.engagements, 0) as bigint)         as engagements,
    cast(coalesce({{ safe_divide('p.earned_media_value', 'p.valued_engagements') }},
                  v.eemv_per_engagement / v.conversion_rate) as {{ type_double() }}) as eemv_per_engagement,
    cast(coalesce(p.earned_media_value, 0) as {{ type_double() }})                   as earned_media_value,
    cast('{{ reporting_currency() }}' as {{ dbt.type_string() }})      as value_currency
from period_values_converted as k
left join post_totals as p
    on p.period_grain = k.period_grain and p.period_start = k.period_start and p.network = k.network
left join traffic_totals as t
    on t.period_grain = k.period_grain and t.period_start = k.period_start and t.network = k.network
left join period_values_converted as v on v.row_id = k.row_id
