{{ config(meta={'dagster': {'ref': {'name': 'attribution_credit'}}}) }}
-- Every opportunity x model distributes exactly one unit of credit, and lists only touches
-- with credit > 0 (DEFINITIONS.md, pinned details: first/last touch give one row).
select opportunity_id, model, 'credit does not sum to 1' as what
from {{ ref('attribution_credit') }}
group by opportunity_id, model
having abs(sum(credit) - 1) > 0.000000001
union all
select opportunity_id, model, 'touch listed with credit <= 0 (' || touch_id || ')'
from {{ ref('attribution_credit') }}
where not (credit > 0)
union all
select opportunity_id, model, 'first/last touch credits more than one touch'
from {{ ref('attribution_credit') }}
where model in ('first_touch', 'last_touch')
group by opportunity_id, model
having count(*) <> 1
