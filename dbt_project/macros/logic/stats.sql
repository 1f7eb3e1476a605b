{#- Score intervals at 95 % (z = 1.959963984540054).

    wilson_interval(x, n): Wilson (1927) score interval for a proportion x/n; null when n = 0.
      centre = (p + z^2/2n) / (1 + z^2/n),  half = z/(1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2)
    newcombe_interval(x1, n1, x2, n2): Newcombe (1998) method 10 for p1 - p2 from the two
      Wilson intervals: low = d - sqrt((p1-l1)^2 + (u2-p2)^2), high = d + sqrt((u1-p1)^2 + (p2-l2)^2).
    Both return a SQL expression; ``part`` is 'low' or 'high'. -#}
{#- z as a double: Spark types the bare literal DECIMAL(16,15), and z*z / (2.0 * n) in decimals
    loses digits there (a quotient's scale may drop to 6). -#}
{% macro _z95() %}cast(1.959963984540054 as {{ type_double() }}){% endmacro %}

{% macro wilson_interval(x, n, part) -%}
    {%- set z = _z95() -%}
    {%- set p = '(cast(' ~ x ~ ' as ' ~ type_double() ~ ') / nullif(' ~ n ~ ', 0))' -%}
    {%- set centre = '((' ~ p ~ ' + ' ~ z ~ '*' ~ z ~ ' / (2.0 * nullif(' ~ n ~ ', 0))) / (1 + ' ~ z ~ '*' ~ z ~ ' / nullif(' ~ n ~ ', 0)))' -%}
    {%- set half = '((' ~ z ~ ' / (1 + ' ~ z ~ '*' ~ z ~ ' / nullif(' ~ n ~ ', 0))) * sqrt(greatest(' ~ p ~ ' * (1 - ' ~ p ~ ') / nullif(' ~ n ~ ', 0) + ' ~ z ~ '*' ~ z ~ ' / (4.0 * nullif(' ~ n ~ ', 0) * nullif(' ~ n ~ ', 0)), 0)))' -%}
    {%- if part == 'low' -%}
        case when {{ n }} > 0 then greatest(0.0, {{ centre }} - {{ half }}) end
    {%- elif part == 'high' -%}
        case when {{ n }} > 0 then least(1.0, {{ centre }} + {{ half }}) end
    {%- else -%}
        {{ exceptions.raise_compiler_error("wilson_interval part must be low or high") }}
    {%- endif -%}
{%- endmacro %}

{% macro newcombe_interval(x1, n1, x2, n2, part) -%}
    {%- set p1 = '(cast(' ~ x1 ~ ' as ' ~ type_double() ~ ') / nullif(' ~ n1 ~ ', 0))' -%}
    {%- set p2 = '(cast(' ~ x2 ~ ' as ' ~ type_double() ~ ') / nullif(' ~ n2 ~ ', 0))' -%}
    {%- if part == 'low' -%}
        (({{ p1 }} - {{ p2 }}) - sqrt(power({{ p1 }} - {{ wilson_interval(x1, n1, 'low') }}, 2) + power({{ wilson_interval(x2, n2, 'high') }} - {{ p2 }}, 2)))
    {%- elif part == 'high' -%}
        (({{ p1 }} - {{ p2 }}) + sqrt(power({{ wilson_interval(x1, n1, 'high') }} - {{ p1 }}, 2) + power({{ p2 }} - {{ wilson_interval(x2, n2, 'low') }}, 2)))
    {%- else -%}
        {{ exceptions.raise_compiler_error("newcombe_interval part must be low or high") }}
    {%- endif -%}
{%- endmacro %}

{% macro safe_divide(num, den) -%}
    (cast({{ num }} as {{ type_double() }}) / nullif({{ den }}, 0))
{%- endmacro %}

{#- Pearson correlation of two columns (an aggregate over the rows where both are non-null,
    like corr()), null when either is constant there (no variance: r is undefined, where
    DuckDB's corr() gives NaN) or there are fewer than two such rows. max > min is exact,
    unlike a computed variance, and portable. -#}
{% macro correlation(x, y) -%}
    {%- set px = 'case when ' ~ y ~ ' is not null then ' ~ x ~ ' end' -%}
    {%- set py = 'case when ' ~ x ~ ' is not null then ' ~ y ~ ' end' -%}
    case
        when max({{ px }}) > min({{ px }}) and max({{ py }}) > min({{ py }}) then corr({{ x }}, {{ y }})
    end
{%- endmacro %}
