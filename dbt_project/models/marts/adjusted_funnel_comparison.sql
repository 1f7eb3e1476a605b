{#- Advocacy-sourced vs other leads, compared within strata (docs/LIFT.md): advocacy may reach
    different companies than other channels (larger ones, which convert better anyway), so the
    raw difference of rates mixes the channel with the company. People: a sourcing touch
    (segment_basis ga4 or crm_original_source: a lead without one has no channel to compare)
    and a lead date at least lift_maturity_days before as_of (younger leads have not had the
    time to qualify). Strata: var lift_strata, any of company_size (int_person_companies),
    industry, country, lead_quarter; default company_size.
    Per stage (lead -> mql, sql, opportunity) one row per stratum, the naive row (all strata
    pooled) and the adjusted row: the strata's differences weighted by their share of advocacy
    leads (the effect on the advocacy leads, ATT), over strata holding both segments.
    Intervals: normal, 95 %; a rate's variance uses (x + 1) / (n + 2) so that x = 0 or x = n
    never claims certainty. -#}
{%- set strata = var('lift_strata', ['company_size']) -%}
{%- set known = {'company_size': 'c.company_size', 'industry': 'c.industry', 'country': 'c.country',
                 'lead_quarter': "cast(" ~ period_start('p.lead_date', 'quarter') ~ " as " ~ dbt.type_string() ~ ")"} -%}
{%- for s in strata -%}
    {%- if s not in known -%}
        {{ exceptions.raise_compiler_error("var lift_strata: unknown stratum " ~ s ~ " (known: company_size, industry, country, lead_quarter)") }}
    {%- endif -%}
{%- endfor -%}
{%- set z = _z95() -%}
with people as (
    select
        p.segment,
        {% for s in strata %}{{ known[s] }}{% if not loop.last %} || ' | ' || {% endif %}{% endfor %} as stratum,
        st.mql_date,
        st.sql_date,
        st.opportunity_date
    from {{ ref('int_person_segments') }} as p
    inner join {{ ref('int_person_stages') }} as st on st.person_key = p.person_key
    inner join {{ ref('int_person_companies') }} as c on c.person_key = p.person_key
    where p.segment_basis <> 'none'
      and p.lead_date <= cast({{ dbt.dateadd('day', -1 * var('lift_maturity_days', 60), as_of_date()) }} as date)
),

stages as (
    {% for stage in var('lift_stages', ['mql', 'sql', 'opportunity']) %}
    select '{{ stage }}' as stage, segment, stratum,
           case when {{ stage }}_date is not null then 1 else 0 end as reached
    from people
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

cells as (
    select
        stage,
        stratum,
        sum(case when segment = 'advocacy' then 1 else 0 end)       as advocacy_leads,
        sum(case when segment = 'advocacy' then reached else 0 end) as advocacy_reached,
        sum(case when segment = 'other' then 1 else 0 end)          as other_leads,
        sum(case when segment = 'other' then reached else 0 end)    as other_reached
    from stages
    group by stage, stratum
),

rated as (
    select
        *,
        case when advocacy_leads > 0 then cast(advocacy_reached as {{ type_double() }}) / advocacy_leads end as advocacy_rate,
        case when other_leads > 0 then cast(other_reached as {{ type_double() }}) / other_leads end          as other_rate,
        advocacy_leads > 0 and other_leads > 0                                                              as usable
    from cells
),

strata as (
    select
        r.*,
        case when r.usable then advocacy_rate - other_rate end as difference,
        -- in doubles: Spark would divide the DECIMAL literals' sums with as few as 6 digits
        case when r.usable then
            (cast(advocacy_reached as {{ type_double() }}) + 1) / (advocacy_leads + 2) * (1 - (cast(advocacy_reached as {{ type_double() }}) + 1) / (advocacy_leads + 2)) / advocacy_leads
            + (cast(other_reached as {{ type_double() }}) + 1) / (other_leads + 2) * (1 - (cast(other_reached as {{ type_double() }}) + 1) / (other_leads + 2)) / other_leads
        end as variance,
        case when r.usable then
            cast(advocacy_leads as {{ type_double() }})
            / sum(case when r.usable then advocacy_leads else 0 end) over (partition by stage)
        else 0.0 end as weight
    from rated as r
),

totals as (
    select
        stage,
        sum(advocacy_leads) as advocacy_leads, sum(advocacy_reached) as advocacy_reached,
        sum(other_leads) as other_leads, sum(other_reached) as other_reached,
        sum(case when usable then advocacy_leads else 0 end) as u_advocacy_leads,
        sum(case when usable then advocacy_reached else 0 end) as u_advocacy_reached,
        sum(case when usable then other_leads else 0 end) as u_other_leads,
        sum(case when usable then other_reached else 0 end) as u_other_reached,
        sum(case when usable then weight * advocacy_rate end) as adj_advocacy_rate,
        sum(case when usable then weight * other_rate end) as adj_other_rate,
        sum(case when usable then weight * difference end) as adj_difference,
        sum(case when usable then weight * weight * variance end) as adj_variance
    from strata
    group by stage
),

naive as (
    select
        *,
        case when advocacy_leads > 0 then cast(advocacy_reached as {{ type_double() }}) / advocacy_leads end as advocacy_rate,
        case when other_leads > 0 then cast(other_reached as {{ type_double() }}) / other_leads end          as other_rate,
        case when advocacy_leads > 0 and other_leads > 0 then
            (cast(advocacy_reached as {{ type_double() }}) + 1) / (advocacy_leads + 2) * (1 - (cast(advocacy_reached as {{ type_double() }}) + 1) / (advocacy_leads + 2)) / advocacy_leads
            + (cast(other_reached as {{ type_double() }}) + 1) / (other_leads + 2) * (1 - (cast(other_reached as {{ type_double() }}) + 1) / (other_leads + 2)) / other_leads
        end as variance
    from totals
),

rows_out as (
    select stage, 'stratum' as row_type, stratum, advocacy_leads, advocacy_reached, advocacy_rate,
           other_leads, other_reached, other_rate, difference,
           difference - {{ z }} * sqrt(variance) as ci_low, difference + {{ z }} * sqrt(variance) as ci_high,
           weight
    from strata
    union all
    select stage, 'naive', '(all)', advocacy_leads, advocacy_reached, advocacy_rate,
           other_leads, other_reached, other_rate, advocacy_rate - other_rate,
           advocacy_rate - other_rate - {{ z }} * sqrt(variance),
           advocacy_rate - other_rate + {{ z }} * sqrt(variance), 1.0
    from naive
    union all
    select stage, 'adjusted', '(all)', u_advocacy_leads, u_advocacy_reached, adj_advocacy_rate,
           u_other_leads, u_other_reached, adj_other_rate, adj_difference,
           adj_difference - {{ z }} * sqrt(adj_variance), adj_difference + {{ z }} * sqrt(adj_variance), 1.0
    from totals
)

select
    {{ as_of_date() }}                                                                as as_of,
    cast({{ dbt.dateadd('day', -1 * var('lift_maturity_days', 60), as_of_date()) }} as date)       as cohort_end_date,
    '{{ strata | join(", ") }}'                                                       as strata,
    stage,
    row_type,
    stratum,
    advocacy_leads,
    advocacy_reached,
    advocacy_rate,
    other_leads,
    other_reached,
    other_rate,
    difference,
    ci_low,
    ci_high,
    weight
from rows_out
