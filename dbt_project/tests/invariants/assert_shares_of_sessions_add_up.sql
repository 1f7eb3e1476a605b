-- web_traffic_by_segment: each date's shares of sessions add up to 1 over its segments and
-- networks (a day with sessions), and every share is its row's sessions over the day's.
with days as (
    select date, sum(sessions) as day_sessions, sum(share_of_sessions) as total_share
    from {{ ref('web_traffic_by_segment') }}
    group by date
)

select w.date, w.segment, w.network, w.share_of_sessions, d.total_share
from {{ ref('web_traffic_by_segment') }} as w
inner join days as d on d.date = w.date
where d.day_sessions > 0
  and (abs(d.total_share - 1) > 1e-9
       or abs(w.share_of_sessions - cast(w.sessions as {{ type_double() }}) / d.day_sessions) > 1e-12)
