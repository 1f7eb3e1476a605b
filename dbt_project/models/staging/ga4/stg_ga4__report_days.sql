with live as (
    {{ live_latest(source('ga4', 'report_days'), 'report, date', '_synced_at desc') }}
)

select
    report                                        as report_name,
    date                                          as report_date,
    coalesce(row_count, 0)                        as row_count,
    coalesce(data_loss_from_other_row, false)     as has_other_row_loss,
    coalesce(other_row_sessions, 0)               as other_row_sessions,
    coalesce(sessions, 0)                         as sessions,
    coalesce(subject_to_thresholding, false)      as is_subject_to_thresholding,
    samples_read_count,
    sampling_space_size,
    coalesce(tokens, 0)                           as tokens,
    {#- rows an older connector wrote have no time zone: the var says which (default: the
        reporting time zone, i.e. no shift) #}
    coalesce(time_zone, '{{ var("ga4_property_timezone", var("reporting_timezone", "UTC")) }}') as property_time_zone,
    _synced_at                                    as synced_at
from live
