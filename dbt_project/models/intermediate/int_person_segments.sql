{#- Segment of a person (DEFINITIONS.md): the sourcing touch is the first (var sourcing_rule
    first_touch; last_touch picks the latest) of the person's touches dated within
    [lead_date - lead_sourcing_lookback_days, lead_date] (a touch on the lead's day counts as
    before it), ordered by (touch_date, touch_id). A synthetic touch only exists for a person
    with no GA4 touch at all, so it is a candidate exactly when the definition says so.
    segment = the sourcing touch's segment, else 'other'; segment_basis = ga4 |
    crm_original_source | none. -#}
{%- set rule = var('sourcing_rule', 'first_touch') -%}
{%- if rule not in ('first_touch', 'last_touch') -%}
    {{ exceptions.raise_compiler_error("var sourcing_rule must be first_touch or last_touch, got " ~ rule) }}
{%- endif -%}
{%- set direction = 'asc' if rule == 'first_touch' else 'desc' -%}
with candidates as (
    select
        t.person_key,
        t.touch_id,
        t.touch_date,
        t.touch_source,
        t.segment,
        t.channel,
        t.advocate_id,
        t.post_id,
        t.network,
        row_number() over (
            partition by t.person_key
            order by t.touch_date {{ direction }}, t.touch_id {{ direction }}
        ) as pick
    from {{ ref('int_touches') }} as t
    inner join {{ ref('int_people') }} as p on p.person_key = t.person_key
    where t.touch_source <> 'salesforce_campaign'   -- campaign touches credit, never source
      and t.touch_date >= {{ date_add_days('-' ~ var('lead_sourcing_lookback_days', 90), 'p.lead_date') }}
      and t.touch_date <= p.lead_date
)

select
    p.person_key,
    p.lead_created_at,
    p.lead_date,
    coalesce(c.segment, 'other')       as segment,
    coalesce(c.touch_source, 'none')   as segment_basis,
    c.touch_id                         as sourcing_touch_id,
    c.touch_date                       as sourcing_touch_date,
    c.channel                          as sourcing_channel,
    c.advocate_id                      as sourcing_advocate_id,
    c.post_id                          as sourcing_post_id,
    c.network                          as sourcing_network
from {{ ref('int_people') }} as p
left join candidates as c on c.person_key = p.person_key and c.pick = 1
