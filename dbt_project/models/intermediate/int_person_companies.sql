{#- The company of a person (docs/LIFT.md): the first of its records (by record_key) that names
    a company with a size - a HubSpot contact's associated company, a Salesforce contact's
    account - with that company's employees, size band (var company_size_bands: small below the
    first limit, mid below the second, large from it), industry and country. People without
    one are in band 'unknown'. Only the strata of the selection-adjusted comparison use it. -#}
{%- set limits = var('company_size_bands', [200, 1000]) -%}
with candidates as (
    select
        r.person_key,
        r.record_key,
        coalesce(hc.number_of_employees, sa.number_of_employees) as number_of_employees,
        coalesce(hc.industry, sa.industry)                       as industry,
        coalesce(hc.country, sa.billing_country)                 as country
    from {{ ref('int_person_records') }} as r
    {# the record's type inside the key, not beside it: a left join's condition on the left
       table alone is no equi-join, and DuckDB then compared every record with every contact
       (40 s at scale 10, quadratic); as a key it is a hash join (0.6 s), the same rows #}
    left join {{ ref('stg_hubspot__contacts') }} as h
        on h.contact_id = case when r.record_type = 'hubspot' then r.source_id end
    left join {{ ref('stg_hubspot__companies') }} as hc on hc.company_id = h.company_id
    left join {{ ref('stg_salesforce__contacts') }} as c
        on c.contact_id = case when r.record_type = 'sf_contact' then r.source_id end
    left join {{ ref('stg_salesforce__accounts') }} as sa on sa.account_id = c.account_id
),

ranked as (
    select
        *,
        row_number() over (partition by person_key order by record_key) as pick
    from candidates
    where number_of_employees is not null
)

select
    p.person_key,
    k.number_of_employees,
    case
        when k.number_of_employees is null then 'unknown'
        when k.number_of_employees < {{ limits[0] }} then 'small'
        when k.number_of_employees < {{ limits[1] }} then 'mid'
        else 'large'
    end                                         as company_size,
    coalesce(k.industry, 'unknown')             as industry,
    coalesce(k.country, 'unknown')              as country
from {{ ref('int_people') }} as p
left join ranked as k on k.person_key = p.person_key and k.pick = 1
