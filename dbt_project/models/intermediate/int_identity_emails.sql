{#- Identity, step 2: which normalised emails may link records (DEFINITIONS.md "People").
    An email links every record carrying it unless it matches a pattern of the seed
    identity_email_exclusions (role, no-reply and placeholder addresses: info@, test@...) or
    more than var identity_max_records_per_email records carry it (one address typed on a flood
    of form fills): such an address says nothing about who filled the form, and linking on it
    would merge strangers into one person. data_quality counts what is skipped. -#}
{%- set max_records = var('identity_max_records_per_email', 10) | int %}
with emails as (
    select email_normalized, count(*) as n_records
    from {{ ref('int_identity_records') }}
    where email_normalized is not null and email_normalized <> ''
    group by email_normalized
),

patterns as (
    select lower(trim(pattern)) as pattern, reason
    from {{ ref('identity_email_exclusions') }}
    where pattern is not null and trim(pattern) <> ''
),

matched as (
    select e.email_normalized, min(p.reason) as reason
    from emails as e
    inner join patterns as p on e.email_normalized like p.pattern
    group by e.email_normalized
)

select
    e.email_normalized,
    e.n_records,
    case
        when m.reason is not null then m.reason
        when e.n_records > {{ max_records }} then 'shared by more than {{ max_records }} records'
    end                                                         as skip_reason,
    m.reason is null and e.n_records <= {{ max_records }}       as is_linking
from emails as e
left join matched as m on m.email_normalized = e.email_normalized
