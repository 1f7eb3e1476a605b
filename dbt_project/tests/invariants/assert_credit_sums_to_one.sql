-- Every opportunity x model distributes exactly one unit of credit.
select opportunity_id, model, sum(credit) as total_credit
from {{ ref('attribution_credit') }}
group by opportunity_id, model
having abs(sum(credit) - 1) > 0.000000001
