-- Seed network_values: per network, the validity windows [valid_from, valid_to) are non-empty
-- and do not overlap, so a post is valued by at most one row (advocacy_value joins on them).
with windows as (
    select
        lower(trim(network))                                        as network,
        valid_from,
        coalesce(valid_to, cast('9999-12-31' as date))              as valid_to,
        row_number() over (order by lower(trim(network)), valid_from, valid_to) as row_no
    from {{ ref('network_values') }}
)

select a.network, a.valid_from, a.valid_to, 'empty window' as what
from windows as a
where a.valid_to <= a.valid_from
union all
select a.network, a.valid_from, a.valid_to, 'overlaps the window from ' || cast(b.valid_from as {{ dbt.type_string() }})
from windows as a
inner join windows as b
    on b.network = a.network
   and b.row_no > a.row_no
   and b.valid_from < a.valid_to
   and a.valid_from < b.valid_to
