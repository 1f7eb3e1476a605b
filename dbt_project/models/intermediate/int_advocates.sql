{#- Advocates: every advocate id seen in the roster seed, the platform's posts or advocacy
    UTMs, matched case-insensitively (all three lower-cased and trimmed: UTM ids by
    normalise_utm, export ids in staging, roster ids here). Name/email from the roster when
    listed, else from the latest post carrying the id.
    sf_user_id: the Salesforce user with the same email (the advocate is a sales rep when that
    user is one, see int_reps), or forced by roster is_rep. -#}
with roster as (
    select
        lower(trim(advocate_id)) as advocate_id,
        advocate_name,
        email,
        team,
        is_rep
    from {{ ref('advocate_roster') }}
    where nullif(trim(advocate_id), '') is not null
),

ids as (
    select advocate_id from roster
    union
    select advocate_id from {{ ref('stg_advocacy_platform__posts') }} where advocate_id is not null
    union
    select advocate_id from {{ ref('int_ga4_sessions') }} where advocate_id is not null
),

latest_post as (
    select
        advocate_id,
        advocate_name,
        advocate_email_normalized,
        row_number() over (partition by advocate_id order by posted_at desc, post_id desc) as pick
    from {{ ref('stg_advocacy_platform__posts') }}
),

users as (
    select email_normalized, min(user_id) as user_id
    from {{ ref('stg_salesforce__users') }}
    where email_normalized is not null
    group by email_normalized
),

advocates as (
    select
        i.advocate_id,
        coalesce(nullif(trim(r.advocate_name), ''), p.advocate_name, i.advocate_id) as advocate_name,
        coalesce({{ normalize_email('r.email') }}, p.advocate_email_normalized)  as email_normalized,
        nullif(trim(r.team), '')                                                 as team,
        r.is_rep                                                                 as roster_is_rep,
        r.advocate_id is not null                                                as is_in_roster
    from ids as i
    left join roster as r on r.advocate_id = i.advocate_id
    left join latest_post as p on p.advocate_id = i.advocate_id and p.pick = 1
)

select
    a.advocate_id,
    a.advocate_name,
    a.email_normalized,
    a.team,
    a.is_in_roster,
    u.user_id                                       as sf_user_id,
    coalesce(a.roster_is_rep, u.user_id is not null) as is_rep_candidate
from advocates as a
left join users as u on u.email_normalized = a.email_normalized
