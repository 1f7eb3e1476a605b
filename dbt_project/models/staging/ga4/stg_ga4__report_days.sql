with live as (
    {{ live_latest(source('ga4', 'report_days'), 'report, date', '_synced_at desc') }}
)

select
    report                                        as report_name,
    date                                          as report_date,
    coalesce(row_count, 0)                        as row_count,
    coalesce(data_loss_from_other_row, false)     as has_other_row_loss,
    coalesce(other_row_sessions, 0)               as other_row_sessions,
    _synced_at                                    as synced_at
from live
