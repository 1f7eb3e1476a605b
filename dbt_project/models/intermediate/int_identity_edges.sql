{#- Identity, step 3: the links between person records (DEFINITIONS.md "People"), one row per
    (node_a, node_b):
      * HubSpot salesforceleadid -> that lead; HubSpot salesforcecontactid -> that contact;
      * Salesforce lead converted_contact_id -> that contact (converted by as_of);
      * a linking email (int_identity_emails): each record -> the smallest record of that email
        (a star: the same components as all pairs, one edge per record).
    Edges only join records that exist here (live, created by as_of): a link to a deleted or
    unknown record is ignored, so it cannot merge two people through a phantom node. -#}
with records as (
    select * from {{ ref('int_identity_records') }}
),

linking as (
    select r.record_key, r.email_normalized
    from records as r
    inner join {{ ref('int_identity_emails') }} as e
        on e.email_normalized = r.email_normalized and e.is_linking
),

directed_edges as (
    select record_key as node_a, 'sf_lead:' || salesforce_lead_id as node_b, 'salesforce_lead_id' as link_type
    from records where salesforce_lead_id is not null
    union all
    select record_key, 'sf_contact:' || salesforce_contact_id, 'salesforce_contact_id'
    from records where salesforce_contact_id is not null
    union all
    select record_key, 'sf_contact:' || converted_contact_id, 'converted_contact_id'
    from records where converted_contact_id is not null
    union all
    select record_key, min(record_key) over (partition by email_normalized), 'email'
    from linking
)

select e.node_a, e.node_b, min(e.link_type) as link_type
from directed_edges as e
inner join records as ra on ra.record_key = e.node_a
inner join records as rb on rb.record_key = e.node_b
where e.node_a <> e.node_b
group by e.node_a, e.node_b
