{#-
  Every adapter-specific SQL construct of the project lives here, behind adapter.dispatch.
  ``default__`` is ANSI-ish SQL (Postgres/Snowflake flavoured); ``duckdb__`` is what runs here.
-#}

{# ---- casting ---------------------------------------------------------------------------- #}
{% macro try_cast(expr, data_type) -%}
    {{ return(adapter.dispatch('try_cast', 'advocacy_attribution')(expr, data_type)) }}
{%- endmacro %}
{% macro default__try_cast(expr, data_type) -%}
    {{ dbt.safe_cast(expr, data_type) }}
{%- endmacro %}
{% macro duckdb__try_cast(expr, data_type) -%}
    try_cast({{ expr }} as {{ data_type }})
{%- endmacro %}
{% macro spark__try_cast(expr, data_type) -%}
    try_cast({{ expr }} as {{ spark_type(data_type) }})
{%- endmacro %}
{% macro postgres__try_cast(expr, data_type) -%}
    {%- if data_type | lower in ('timestamp', 'timestamp without time zone') -%}
        {{ target.schema }}.advocacy_try_timestamp(cast({{ expr }} as text))
    {%- else -%}
        {{ dbt.safe_cast(expr, data_type) }}
    {%- endif -%}
{%- endmacro %}

{# A HubSpot property string to a UTC timestamp: ISO 8601 (``2026-01-05T10:00:00.000Z``) or
   epoch milliseconds (older portals); empty/garbage -> null. #}
{% macro hubspot_timestamp(expr) -%}
    {{ return(adapter.dispatch('hubspot_timestamp', 'advocacy_attribution')(expr)) }}
{%- endmacro %}
{% macro default__hubspot_timestamp(expr) -%}
    case
        when nullif(trim({{ expr }}), '') is null then null
        {# epoch milliseconds; a negative one (before 1970, a typing slip) is read as what it
           says, so that impossible_dates flags it instead of it turning null unnoticed #}
        when {{ regexp_matches('trim(' ~ expr ~ ')', '^[0-9]{10,13}$|^-[0-9]{1,13}$') }}
            then {{ epoch_ms_to_timestamp(try_cast('trim(' ~ expr ~ ')', 'bigint')) }}
        else {{ try_cast('trim(' ~ expr ~ ')', dbt.type_timestamp()) }}
    end
{%- endmacro %}

{% macro epoch_ms_to_timestamp(expr) -%}
    {{ return(adapter.dispatch('epoch_ms_to_timestamp', 'advocacy_attribution')(expr)) }}
{%- endmacro %}
{% macro default__epoch_ms_to_timestamp(expr) -%}
    cast(to_timestamp(({{ expr }}) / 1000.0) at time zone 'UTC' as {{ dbt.type_timestamp() }})
{%- endmacro %}
{% macro spark__epoch_ms_to_timestamp(expr) -%}
    timestamp_millis(cast({{ expr }} as bigint))
{%- endmacro %}
{% macro duckdb__epoch_ms_to_timestamp(expr) -%}
    cast(epoch_ms(cast({{ expr }} as bigint)) as timestamp)
{%- endmacro %}

{# HubSpot booleans are the strings "true"/"false". #}
{% macro string_to_boolean(expr) -%}
    case lower(trim({{ expr }})) when 'true' then true when 'false' then false end
{%- endmacro %}

{# ---- strings ---------------------------------------------------------------------------- #}
{# An email as identity compares it (docs/DEFINITIONS.md, "Identity"): lower case, every Unicode
   white space (tab, no-break space, ...) and invisible format character (zero-width space and
   joiners, word joiner, BOM) removed wherever it is; nothing left -> null. trim() alone removes
   ASCII spaces at the ends only, so a tab-only email or one with a zero-width space would merge
   strangers or split one person. #}
{% macro normalize_email(expr) -%}
    {{ return(adapter.dispatch('normalize_email', 'advocacy_attribution')(expr)) }}
{%- endmacro %}
{% macro default__normalize_email(expr) -%}
    nullif(lower(regexp_replace({{ expr }}, '[[:space:]\u00a0\u200b\u200c\u200d\u2060\ufeff\u180e]', '', 'g')), '')
{%- endmacro %}
{% macro duckdb__normalize_email(expr) -%}
    nullif(lower(regexp_replace({{ expr }}, '[\s\pZ\x{200B}-\x{200D}\x{2060}\x{FEFF}\x{180E}]', '', 'g')), '')
{%- endmacro %}

{#- Java's regex: RE2's \s spelled out (no vertical tab), \p{Z} and the format characters by
    code point; backslashes doubled for Spark's string literals. -#}
{% macro spark__normalize_email(expr) -%}
    nullif(lower(regexp_replace({{ expr }}, '[\\t\\n\\f\\r \\p{Z}\\x{200B}-\\x{200D}\\x{2060}\\x{FEFF}\\x{180E}]', '')), '')
{%- endmacro %}

{# A label compared to a mapping (lead status, lifecycle stage): case- and space-insensitive
   (lower case, all white space removed), so ``Working - Contacted`` = ``working-contacted``. #}
{% macro normalize_label(expr) -%}
    {{ return(adapter.dispatch('normalize_label', 'advocacy_attribution')(expr)) }}
{%- endmacro %}
{% macro default__normalize_label(expr) -%}
    nullif(lower(regexp_replace({{ expr }}, '[[:space:]\u00a0]', '', 'g')), '')
{%- endmacro %}
{% macro duckdb__normalize_label(expr) -%}
    nullif(lower(regexp_replace({{ expr }}, '[\s\pZ\x{200B}-\x{200D}\x{2060}\x{FEFF}]', '', 'g')), '')
{%- endmacro %}

{% macro spark__normalize_label(expr) -%}
    nullif(lower(regexp_replace({{ expr }}, '[\\t\\n\\f\\r \\p{Z}\\x{200B}-\\x{200D}\\x{2060}\\x{FEFF}]', '')), '')
{%- endmacro %}

{# Percent-decoding with ``+`` as space (application/x-www-form-urlencoded). #}
{% macro url_decode(expr) -%}
    {{ return(adapter.dispatch('url_decode', 'advocacy_attribution')(expr)) }}
{%- endmacro %}
{% macro default__url_decode(expr) -%}
    {#- Snowflake and BigQuery have no built-in percent-decoding: a UDF, as postgres__ does -#}
    {{ exceptions.raise_compiler_error("url_decode: implement " ~ adapter.type() ~ "__url_decode (e.g. a UDF, as postgres__url_decode does)") }}
{%- endmacro %}
{% macro duckdb__url_decode(expr) -%}
    coalesce(try(url_decode(replace({{ expr }}, '+', ' '))), replace({{ expr }}, '+', ' '))
{%- endmacro %}
{# Postgres has no percent-decoding: a SQL function the run creates first (on-run-start
   portable_setup), with the same fallback as DuckDB's try(): malformed input stays as is. #}
{% macro postgres__url_decode(expr) -%}
    {{ target.schema }}.advocacy_url_decode({{ expr }})
{%- endmacro %}
{# Spark 4: try_url_decode is null where the input is malformed. #}
{% macro spark__url_decode(expr) -%}
    coalesce(try_url_decode(replace({{ expr }}, '+', ' ')), replace({{ expr }}, '+', ' '))
{%- endmacro %}

{# ---- run setup: functions an adapter lacks (on-run-start) ---------------------------------- #}
{% macro portable_setup() -%}
    {{ return(adapter.dispatch('portable_setup', 'advocacy_attribution')()) }}
{%- endmacro %}
{% macro default__portable_setup() -%}
    select 1
{%- endmacro %}
{% macro postgres__portable_setup() -%}
    create schema if not exists {{ target.schema }};
    create or replace function {{ target.schema }}.advocacy_url_decode(input text)
    returns text language plpgsql immutable parallel safe as $fn$
    declare
        plain text := replace(input, '+', ' ');
        bytes bytea := ''::bytea;
        i int := 1;
        n int := length(plain);
        ch text;
    begin
        if input is null then return null; end if;
        while i <= n loop
            ch := substr(plain, i, 1);
            if ch = '%' and substr(plain, i + 1, 2) ~ '^[0-9A-Fa-f]{2}$' then
                bytes := bytes || decode(substr(plain, i + 1, 2), 'hex');
                i := i + 3;
            else
                bytes := bytes || convert_to(ch, 'UTF8');
                i := i + 1;
            end if;
        end loop;
        return convert_from(bytes, 'UTF8');
    exception when others then
        return plain;  -- not valid UTF-8 once decoded: kept as sent (DuckDB: try() -> null)
    end
    $fn$;
    -- try_cast to a timestamp: null for what does not parse (2026-02-30), as DuckDB's try_cast
    create or replace function {{ target.schema }}.advocacy_try_timestamp(input text)
    returns timestamp language plpgsql immutable parallel safe as $fn$
    begin
        return input::timestamp;
    exception when others then
        return null;
    end
    $fn$
{%- endmacro %}

{# Trim every kind of ASCII whitespace (as Python's str.strip does for these). #}
{% macro trim_whitespace(expr) -%}
    {{ return(adapter.dispatch('trim_whitespace', 'advocacy_attribution')(expr)) }}
{%- endmacro %}
{% macro default__trim_whitespace(expr) -%}
    trim(both from {{ expr }})
{%- endmacro %}
{% macro spark__trim_whitespace(expr) -%}
    trim(both concat(' ', chr(9), chr(10), chr(11), chr(12), chr(13)) from {{ expr }})
{%- endmacro %}
{% macro duckdb__trim_whitespace(expr) -%}
    trim({{ expr }}, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))
{%- endmacro %}

{% macro regexp_extract(expr, pattern, group=0) -%}
    {{ return(adapter.dispatch('regexp_extract', 'advocacy_attribution')(expr, pattern, group)) }}
{%- endmacro %}
{#- Java regexes read a POSIX bracket class ([[:space:]]) as a set of its letters: the one class
    the project's regexes use becomes Java's \p{Space} (backslash doubled for Spark's string
    literals) wherever a regex reaches Spark. -#}
{% macro spark_regex(pattern) -%}
    {{- return(pattern | replace('[[:space:]]', '\\\\p{Space}')) -}}
{%- endmacro %}
{% macro default__regexp_extract(expr, pattern, group) -%}
    regexp_substr({{ expr }}, '{{ pattern }}', 1, 1, 'e', {{ group }})
{%- endmacro %}
{% macro duckdb__regexp_extract(expr, pattern, group) -%}
    nullif(regexp_extract({{ expr }}, '{{ pattern }}', {{ group }}), '')
{%- endmacro %}
{# No match and an empty group are both null, as on DuckDB; the pattern in one more group so
   that group 0 is the whole match. #}
{% macro postgres__regexp_extract(expr, pattern, group) -%}
    nullif((regexp_match({{ expr }}, '({{ pattern }})'))[{{ group + 1 }}], '')
{%- endmacro %}
{% macro spark__regexp_extract(expr, pattern, group) -%}
    nullif(regexp_extract({{ expr }}, '{{ spark_regex(pattern) }}', {{ group }}), '')
{%- endmacro %}

{% macro regexp_matches(expr, pattern) -%}
    {{ return(adapter.dispatch('regexp_matches', 'advocacy_attribution')(expr, pattern)) }}
{%- endmacro %}
{% macro default__regexp_matches(expr, pattern) -%}
    ({{ expr }} ~ '{{ pattern }}')
{%- endmacro %}
{% macro spark__regexp_matches(expr, pattern) -%}
    ({{ expr }} rlike '{{ spark_regex(pattern) }}')
{%- endmacro %}
{% macro duckdb__regexp_matches(expr, pattern) -%}
    regexp_matches({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{# ---- numbers and aggregates -------------------------------------------------------------- #}
{% macro modulo(a, b) -%}
    {{ return(adapter.dispatch('modulo', 'advocacy_attribution')(a, b)) }}
{%- endmacro %}
{% macro default__modulo(a, b) -%}
    mod({{ a }}, {{ b }})
{%- endmacro %}
{% macro duckdb__modulo(a, b) -%}
    (({{ a }}) % ({{ b }}))
{%- endmacro %}

{% macro median(expr) -%}
    {{ return(adapter.dispatch('median', 'advocacy_attribution')(expr)) }}
{%- endmacro %}
{% macro default__median(expr) -%}
    percentile_cont(0.5) within group (order by {{ expr }})
{%- endmacro %}
{% macro duckdb__median(expr) -%}
    quantile_cont({{ expr }}, 0.5)
{%- endmacro %}

{# ---- time ------------------------------------------------------------------------------- #}
{# A UTC timestamp -> a date in the reporting time zone (var reporting_timezone). #}
{% macro to_reporting_date(expr) -%}
    {%- set tz = var('reporting_timezone', 'UTC') -%}
    {%- if tz | upper == 'UTC' -%}
        cast({{ expr }} as date)
    {%- else -%}
        {{ return(adapter.dispatch('to_reporting_date', 'advocacy_attribution')(expr, tz)) }}
    {%- endif -%}
{%- endmacro %}
{% macro default__to_reporting_date(expr, tz) -%}
    cast(({{ expr }} at time zone 'UTC') at time zone '{{ tz }}' as date)
{%- endmacro %}
{% macro spark__to_reporting_date(expr, tz) -%}
    to_date(from_utc_timestamp({{ expr }}, '{{ tz }}'))
{%- endmacro %}
{% macro duckdb__to_reporting_date(expr, tz) -%}
    cast(timezone('{{ tz }}', timezone('UTC', {{ expr }})) as date)
{%- endmacro %}

{# Whole days from a to b (b - a), both dates. #}
{% macro days_between(a, b) -%}
    {{ dbt.datediff(a, b, 'day') }}
{%- endmacro %}

{# A double-precision float type name (dbt.type_float() is 4-byte REAL on DuckDB). #}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'advocacy_attribution')()) }}
{%- endmacro %}
{% macro default__type_double() -%}double precision{%- endmacro %}
{% macro duckdb__type_double() -%}double{%- endmacro %}
{% macro spark__type_double() -%}double{%- endmacro %}

{# ---- now, in UTC ------------------------------------------------------------------------- #}
{# The current time as a timestamp without time zone in UTC, like the connectors' _synced_at
   columns: comparing those with the session's local now() would be off by the machine's UTC
   offset (DuckDB's now() is a TIMESTAMPTZ in the session time zone). #}
{% macro utc_now() -%}
    {{ return(adapter.dispatch('utc_now', 'advocacy_attribution')()) }}
{%- endmacro %}
{% macro default__utc_now() -%}
    {{ dbt.current_timestamp_in_utc_backcompat() }}
{%- endmacro %}
{# Spark: the profile's session time zone is UTC (dbt_project/profiles.yml) #}
{% macro spark__utc_now() -%}
    to_utc_timestamp(current_timestamp(), current_timezone())
{%- endmacro %}
{% macro duckdb__utc_now() -%}
    timezone('UTC', now())
{%- endmacro %}

{# ---- byte-wise string order ---------------------------------------------------------------- #}
{# min()/< on keys the way Python and DuckDB order them: a Postgres database's collation may
   be a locale's (en_US sorts 'sf_lead' and 'sf-x' differently). #}
{% macro binary_order(expr) -%}
    {{ return(adapter.dispatch('binary_order', 'advocacy_attribution')(expr)) }}
{%- endmacro %}
{% macro default__binary_order(expr) -%}
    {{ expr }}
{%- endmacro %}
{% macro postgres__binary_order(expr) -%}
    ({{ expr }} collate "C")
{%- endmacro %}

{# The stat_note of a p-value the SQL path leaves to the post-build step (`advocacy stats`). #}
{% macro stats_pending_note() -%}
    'p-value pending: run advocacy stats --target {{ target.name }} after the build'
{%- endmacro %}

{# round(x, digits) of a double: Postgres rounds numerics only. #}
{% macro round_to(expr, digits) -%}
    {{ return(adapter.dispatch('round_to', 'advocacy_attribution')(expr, digits)) }}
{%- endmacro %}
{% macro default__round_to(expr, digits) -%}
    round({{ expr }}, {{ digits }})
{%- endmacro %}
{% macro postgres__round_to(expr, digits) -%}
    cast(round(cast({{ expr }} as numeric), {{ digits }}) as {{ type_double() }})
{%- endmacro %}

{# Day of the week of a date, Sunday = 0 ... Saturday = 6 (Spark's extract(dow) and
   dayofweek() count Sunday = 1: the day names would shift by one). #}
{% macro day_of_week_number(expr) -%}
    {{ return(adapter.dispatch('day_of_week_number', 'advocacy_attribution')(expr)) }}
{%- endmacro %}
{% macro default__day_of_week_number(expr) -%}
    cast(extract(dow from {{ expr }}) as integer)
{%- endmacro %}
{% macro spark__day_of_week_number(expr) -%}
    (dayofweek({{ expr }}) - 1)
{%- endmacro %}
{% macro snowflake__day_of_week_number(expr) -%}
    dayofweekiso({{ expr }}) % 7
{%- endmacro %}
{% macro bigquery__day_of_week_number(expr) -%}
    (extract(dayofweek from {{ expr }}) - 1)
{%- endmacro %}
