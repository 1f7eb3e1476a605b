-- Stages are monotone, so every cohort's funnel is non-increasing.
select period_grain, period_start, segment
from {{ ref('funnel_by_segment') }}
where mqls > leads or sqls > mqls or opportunities > sqls or won > opportunities
