-- No fan-out: attribution_credit has exactly the rows of int_attribution_weights, and one
-- person per identity record (people are counted once in the funnel).
select 'attribution_credit' as what
from (select count(*) as n from {{ ref('attribution_credit') }}) as a
cross join (select count(*) as n from {{ ref('int_attribution_weights') }}) as w
where a.n <> w.n
union all
select 'funnel_leads'
from (select sum(leads) as n from {{ ref('funnel_by_segment') }} where period_grain = 'month') as f
cross join (select count(*) as n from {{ ref('int_people') }} where lead_date <= {{ as_of_date() }}) as p
where f.n <> p.n
