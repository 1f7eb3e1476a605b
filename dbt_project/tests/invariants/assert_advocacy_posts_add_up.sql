-- advocacy_posts (one row per post, joined to int_advocates) adds up to the advocate
-- leaderboard's posts, clicks and engagements per quarter x advocate (a leaderboard tested
-- against the sandbox truth): no post lost or doubled by the join. Rows returned = failures.
with posts as (
    select period_start, advocate_id, count(*) as posts, sum(clicks) as clicks,
           sum(engagements) as engagements
    from {{ ref('advocacy_posts') }}
    group by period_start, advocate_id
),

board as (
    select period_start, advocate_id, posts, clicks, engagements
    from {{ ref('advocate_leaderboard') }}
    where period_grain = 'quarter' and posts > 0
)

select coalesce(p.period_start, b.period_start) as period_start,
       coalesce(p.advocate_id, b.advocate_id) as advocate_id,
       p.posts as post_rows, b.posts as leaderboard_posts
from posts as p
full outer join board as b
    on b.period_start = p.period_start and b.advocate_id = p.advocate_id
where p.posts is null or b.posts is null
   or p.posts <> b.posts or p.clicks <> b.clicks or p.engagements <> b.engagements
