{#- One row per advocacy post (platform, post id) with its fiscal quarter, advocate, network,
    content category and the export's clicks and engagements: the report's most-clicked and
    most-engaging posts, and the content category of each advocate's top post. -#}
with posts as (
    select * from {{ ref('int_advocacy_posts') }}
)

select
    cast('quarter' as varchar)                                as period_grain,
    {{ period_start('posts.activity_date', 'quarter') }}      as period_start,
    cast(posts.platform as varchar)                           as platform,
    cast(posts.post_id as varchar)                            as post_id,
    cast(posts.advocate_id as varchar)                        as advocate_id,
    cast(coalesce(a.advocate_name, posts.advocate_id) as varchar) as advocate_name,
    cast(posts.network as varchar)                            as network,
    cast(posts.category as varchar)                           as category,
    cast(posts.activity_date as date)                         as posted_date,
    cast(posts.clicks as bigint)                              as clicks,
    cast(posts.engagements as bigint)                         as engagements
from posts
left join {{ ref('int_advocates') }} as a on a.advocate_id = posts.advocate_id
