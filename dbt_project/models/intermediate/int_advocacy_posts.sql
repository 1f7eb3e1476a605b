{#- The advocacy platform's posts up to as_of, with the network normalised through the
    network_aliases seed and the posted date in the reporting time zone. One row per post
    (platform, post id). -#}
select
    p.platform,
    p.post_id,
    p.advocate_id,
    coalesce(na.network, p.network_raw)     as network,
    p.category,
    {{ to_reporting_date('p.posted_at') }}  as activity_date,
    p.clicks,
    p.engagements
from {{ ref('stg_advocacy_platform__posts') }} as p
left join {{ ref('network_aliases') }} as na on lower(trim(na.alias)) = p.network_raw
where {{ to_reporting_date('p.posted_at') }} <= {{ as_of_date() }}
