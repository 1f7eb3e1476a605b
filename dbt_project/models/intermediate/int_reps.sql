{#- Sales reps: Salesforce users who own a reportable opportunity or have a quota. HubSpot
    deal owners are mapped to their Salesforce user by email in int_opportunities. A rep is an
    advocate when an advocate's email (roster or posts) is the rep's, or the roster says so. -#}
with rep_ids as (
    select owner_user_id as user_id from {{ ref('int_opportunities') }}
    where is_currency_known and owner_user_id is not null
    union
    select user_id from {{ ref('int_rep_quotas') }}
)

select
    u.user_id                                                   as rep_id,
    coalesce(u.user_name, trim(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, ''))) as rep_name,
    u.email_normalized,
    u.title,
    u.department,
    u.is_active,
    -- a join, not a correlated EXISTS in the select list (Spark cannot run those)
    a.sf_user_id is not null                                    as is_advocate
from rep_ids as r
inner join {{ ref('stg_salesforce__users') }} as u on u.user_id = r.user_id
left join (
    select distinct sf_user_id from {{ ref('int_advocates') }} where is_rep_candidate
) as a on a.sf_user_id = u.user_id
