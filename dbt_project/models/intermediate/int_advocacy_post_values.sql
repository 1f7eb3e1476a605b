{#- Each advocacy post valued with the network_values row valid on its posted date
    ([valid_from, valid_to)), the seed's cpc and eemv_per_engagement converted from the seed
    row's currency into the reporting currency at the rate of the posted date (the same cross
    rate as opportunity amounts, macro convert_to_reporting). A post without a seed row has
    null values; one whose currency has no rate is_currency_known = false, null values, and is
    counted in data_quality (unknown_currency_values). -#}
with posts as (
    select
        p.platform || '|' || p.post_id                       as row_id,
        p.platform,
        p.post_id,
        p.advocate_id,
        p.network,
        p.activity_date,
        p.clicks,
        p.engagements,
        v.cpc                                                as cpc_original,
        v.eemv_per_engagement                                as eemv_original,
        case when v.network is not null
             then coalesce(nullif(upper(trim(v.currency)), ''), '{{ reporting_currency() }}') end as value_currency
    from {{ ref('int_advocacy_posts') }} as p
    left join {{ ref('network_values') }} as v
        on lower(trim(v.network)) = p.network
       and v.valid_from <= p.activity_date
       and (v.valid_to is null or p.activity_date < v.valid_to)
),

{{ convert_to_reporting('posts', 'value_currency', 'activity_date') }}

select
    platform,
    post_id,
    advocate_id,
    network,
    activity_date,
    clicks,
    engagements,
    value_currency,
    conversion_rate,
    is_currency_known,
    case when is_currency_known then cpc_original / conversion_rate end      as cpc,
    case when is_currency_known then eemv_original / conversion_rate end     as eemv_per_engagement,
    case when is_currency_known then clicks * cpc_original / conversion_rate end           as paid_equivalent_value,
    case when is_currency_known then engagements * eemv_original / conversion_rate end     as earned_media_value
from posts_converted
