{#-
  UTM normalisation and classification (docs/DEFINITIONS.md, "Touches").

  normalise_utm(expr): URL-decode (percent-decoding, + as space), trim, lower-case; null -> ''.

  classify_utms(input_cte): emits CTEs that classify the rows of ``input_cte`` (which must have
  columns utm_source, utm_medium, utm_campaign, utm_content, utm_term) and ends with a CTE
  named ``<input_cte>_classified``: every input column plus norm_source .. norm_term, segment,
  channel, rule_id, advocate_id, post_id, network.

  The rules are data, not code: seed ``advocacy_utm_rules`` (evaluated in priority order, first
  match wins, all before any generic rule) and seed ``channel_rules`` (generic channels, lowest
  priority wins, ``*`` = any). Normalisation happens once per distinct raw UTM combination and
  classification once per distinct normalised one, both joined back to the rows (a few thousand
  combinations against millions of GA rows), so neither the string work nor the rule join
  scales with the rows, and the rule join never fans rows out.
-#}
{% macro normalise_utm(expr) -%}
    lower({{ trim_whitespace(url_decode('coalesce(' ~ expr ~ ', \'\')')) }})
{%- endmacro %}

{% macro _utm_field(alias, field_expr) -%}
    case lower(trim({{ field_expr }}))
        when 'source' then {{ alias }}.norm_source
        when 'medium' then {{ alias }}.norm_medium
        when 'campaign' then {{ alias }}.norm_campaign
        when 'content' then {{ alias }}.norm_content
        when 'term' then {{ alias }}.norm_term
    end
{%- endmacro %}

{% macro classify_utms(input_cte) -%}
{%- set n = input_cte -%}
{#- Normalising (URL-decoding, trimming, lower-casing) is the costly part, so it runs once per
    distinct raw combination, never per row: millions of GA rows hold a few thousand. A null
    field and '' normalise alike, so a combination is keyed on coalesce(field, ''), which joins
    back with plain equality (no null-safe comparison needed on any adapter). -#}
{{ n }}_raw_combos as (
    select distinct
        coalesce({{ n }}.utm_source, '')   as raw_source,
        coalesce({{ n }}.utm_medium, '')   as raw_medium,
        coalesce({{ n }}.utm_campaign, '') as raw_campaign,
        coalesce({{ n }}.utm_content, '')  as raw_content,
        coalesce({{ n }}.utm_term, '')     as raw_term
    from {{ n }}
),

{{ n }}_normalised_combos as (
    select
        raw_source, raw_medium, raw_campaign, raw_content, raw_term,
        {{ normalise_utm('raw_source') }}   as norm_source,
        {{ normalise_utm('raw_medium') }}   as norm_medium,
        {{ normalise_utm('raw_campaign') }} as norm_campaign,
        {{ normalise_utm('raw_content') }}  as norm_content,
        {{ normalise_utm('raw_term') }}     as norm_term
    from {{ n }}_raw_combos
),

{{ n }}_combos as (
    select distinct norm_source, norm_medium, norm_campaign, norm_content, norm_term
    from {{ n }}_normalised_combos
),

{{ n }}_advocacy_candidates as (
    select
        c.norm_source, c.norm_medium, c.norm_campaign, c.norm_content, c.norm_term,
        r.rule_id,
        nullif({{ _utm_field('c', 'r.advocate_id_field') }}, '') as advocate_id,
        nullif({{ _utm_field('c', 'r.post_id_field') }}, '')     as post_id,
        nullif({{ _utm_field('c', 'r.network_field') }}, '')     as network_value,
        row_number() over (
            partition by c.norm_source, c.norm_medium, c.norm_campaign, c.norm_content, c.norm_term
            order by r.priority, r.rule_id
        ) as rule_rank
    from {{ n }}_combos as c
    inner join {{ ref('advocacy_utm_rules') }} as r
        on {{ _utm_field('c', 'r.match_field') }} = lower(trim(r.match_value))
),

{{ n }}_channel_candidates as (
    select
        c.norm_source, c.norm_medium, c.norm_campaign, c.norm_content, c.norm_term,
        r.channel,
        row_number() over (
            partition by c.norm_source, c.norm_medium, c.norm_campaign, c.norm_content, c.norm_term
            order by r.priority, r.channel
        ) as rule_rank
    from {{ n }}_combos as c
    inner join {{ ref('channel_rules') }} as r
        on (trim(r.medium) = '*' or lower(trim(r.medium)) = c.norm_medium)
       and (trim(r.source) = '*' or lower(trim(r.source)) = c.norm_source)
),

{{ n }}_combo_classes as (
    select
        c.norm_source, c.norm_medium, c.norm_campaign, c.norm_content, c.norm_term,
        case when a.rule_id is not null then 'advocacy' else 'other' end as segment,
        case
            when a.rule_id is not null then 'advocacy'
            else coalesce(ch.channel, 'unclassified')
        end                                                              as channel,
        a.rule_id,
        a.advocate_id,
        a.post_id,
        coalesce(na.network, a.network_value)                            as network
    from {{ n }}_combos as c
    left join {{ n }}_advocacy_candidates as a
        on a.rule_rank = 1
       and a.norm_source = c.norm_source and a.norm_medium = c.norm_medium
       and a.norm_campaign = c.norm_campaign and a.norm_content = c.norm_content
       and a.norm_term = c.norm_term
    left join {{ n }}_channel_candidates as ch
        on ch.rule_rank = 1
       and ch.norm_source = c.norm_source and ch.norm_medium = c.norm_medium
       and ch.norm_campaign = c.norm_campaign and ch.norm_content = c.norm_content
       and ch.norm_term = c.norm_term
    left join {{ ref('network_aliases') }} as na
        on lower(trim(na.alias)) = a.network_value
),

{{ n }}_raw_classes as (
    select
        r.raw_source, r.raw_medium, r.raw_campaign, r.raw_content, r.raw_term,
        r.norm_source, r.norm_medium, r.norm_campaign, r.norm_content, r.norm_term,
        k.segment, k.channel, k.rule_id, k.advocate_id, k.post_id, k.network
    from {{ n }}_normalised_combos as r
    inner join {{ n }}_combo_classes as k
        on k.norm_source = r.norm_source and k.norm_medium = r.norm_medium
       and k.norm_campaign = r.norm_campaign and k.norm_content = r.norm_content
       and k.norm_term = r.norm_term
),

{{ n }}_classified as (
    select
        x.*,
        k.norm_source,
        k.norm_medium,
        k.norm_campaign,
        k.norm_content,
        k.norm_term,
        k.segment,
        k.channel,
        k.rule_id,
        k.advocate_id,
        k.post_id,
        k.network
    from {{ n }} as x
    inner join {{ n }}_raw_classes as k
        on k.raw_source = coalesce(x.utm_source, '') and k.raw_medium = coalesce(x.utm_medium, '')
       and k.raw_campaign = coalesce(x.utm_campaign, '') and k.raw_content = coalesce(x.utm_content, '')
       and k.raw_term = coalesce(x.utm_term, '')
)
{%- endmacro %}
