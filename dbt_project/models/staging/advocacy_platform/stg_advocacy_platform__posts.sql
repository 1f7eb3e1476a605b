{#- The posts export, latest live version per post (platform, post id: two platforms may
    number their posts alike). advocate_id is trimmed and lower-cased:
    advocate ids match case-insensitively everywhere (UTM ids are lower-cased by
    normalise_utm, roster ids in int_advocates). -#}
with live as (
    {{ live_latest(source('advocacy_platform', 'posts'), 'platform, post_id', '_synced_at desc') }}
)

select
    post_id,
    lower(trim(platform))                                   as platform,
    -- case-insensitive like the UTM-derived ids (docs/DEFINITIONS.md, "Advocates and reps"): ADV_0001 = adv_0001
    lower(trim(advocate_id))                                as advocate_id,
    {{ normalize_email('advocate_email') }}                 as advocate_email_normalized,
    nullif(trim(advocate_name), '')                         as advocate_name,
    lower(trim(network))                                    as network_raw,
    nullif(trim(category), '')                              as category,
    nullif(trim(campaign), '')                              as campaign,
    posted_at,
    url,
    coalesce(clicks, 0)                                     as clicks,
    coalesce(likes, 0)                                      as likes,
    coalesce(comments, 0)                                   as comments,
    coalesce(shares, 0)                                     as shares,
    coalesce(likes, 0) + coalesce(comments, 0) + coalesce(shares, 0) as engagements,
    _source_file                                            as source_file,
    _synced_at                                              as synced_at
from live
