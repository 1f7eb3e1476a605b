{#- One row per advocacy post (platform, post id) with its fiscal quarter, advocate, network,
    content category and the export's clicks and engagements: the report's most-clicked and
    most-engaging posts, and the content category of each advocate's top post. -#}
with posts as (
    select * from {{ ref('int_advocacy_posts') }}
)

select
    cast('quarter' as {{ dbt.type_string() }})                                as period_grain,
    {{ period_start('posts.activity_date', 'quarter') }}      as period_start,
    cast(posts.platform as {{ dbt.type_string() }})                           as platform,
    cast(posts.post_id as {{ dbt.type_string() }})                            as post_id,
    cast(posts.advocate_id as {{ dbt.type_string() }})                        as advocate_id,
    cast(coalesce(a.advocate_name, posts.advocate_id) as {{ dbt.type_string() }}) as advocate_name,
    cast(posts.network as {{ dbt.type_string() }})                            as network,
    cast(posts.category as {{ dbt.type_string() }})                           as category,
    cast(posts.activity_date as date)                         as posted_date,
    cast(posts.clicks as bigint)                              as clicks,
    cast(posts.engagements as bigint)                         as engagements
from posts
left join {{ ref('int_advocates') }} as a on a.advocate_id = posts.advocate_id
