-- One way to read a date, for every source: rs_date(value, kind, today) -> struct(value DATE,
-- problem VARCHAR). The text is matched once; the list_transform([...], lambda ...)[1] steps
-- bind each intermediate result to a name instead of repeating its expression.
-- Accepted (month and day with one or two digits): YYYY-MM-DD, also with a time part
-- (T14:30, T14:30:00, T14:30:00.123Z, T14:30:00-05:00: the date is taken as written, the time
-- and zone are ignored); M/D/YYYY; YYYY/M/D; M/D/YY.
-- kind 'birth': a two-digit year takes the latest century that does not put the date after
-- today; a birth date after today or before 1900 is a problem.
-- kind 'term': a two-digit year takes the century that puts the date within 50 years of
-- today; a date more than 50 years before or after today is a problem.
-- A date that does not exist (2/30/2020, 13/1/2020) or any other text is a problem, never a
-- guess: value is NULL and problem says why. An empty value is no date and no problem.
create or replace macro rs_date(value, kind, today) as
list_transform(
    [{
        'text': nullif(trim(value), ''),
        'parts': regexp_extract(
            trim(value),
            '^(?:(\d{4})-(\d{1,2})-(\d{1,2})'
                || '(?:T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?'
                || '(?:Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?)?'
                || '|(\d{4})/(\d{1,2})/(\d{1,2})'
                || '|(\d{1,2})/(\d{1,2})/(\d{4}|\d{2}))$',
            ['iso_y', 'iso_m', 'iso_d', 'ymd_y', 'ymd_m', 'ymd_d', 'mdy_m', 'mdy_d', 'mdy_y']
        )
    }],
    lambda given: list_transform(
        [{
            'text': given.text,
            'year_text': coalesce(
                nullif(given.parts.iso_y, ''), nullif(given.parts.ymd_y, ''),
                nullif(given.parts.mdy_y, '')
            ),
            'month': coalesce(
                nullif(given.parts.iso_m, ''), nullif(given.parts.ymd_m, ''),
                nullif(given.parts.mdy_m, '')
            )::integer,
            'day': coalesce(
                nullif(given.parts.iso_d, ''), nullif(given.parts.ymd_d, ''),
                nullif(given.parts.mdy_d, '')
            )::integer
        }],
        lambda found: list_transform(
            [{
                'text': found.text,
                'matched': found.year_text is not null,
                'month': found.month,
                'day': found.day,
                'year': case
                    when length(found.year_text) = 4 then found.year_text::integer
                    when kind = 'birth' then
                        case
                            when (2000 + found.year_text::integer) * 10000
                                + found.month * 100 + found.day
                                <= year(today) * 10000 + month(today) * 100 + day(today)
                                then 2000 + found.year_text::integer
                            else 1900 + found.year_text::integer
                        end
                    when kind = 'term' then
                        year(today) - 50
                        + ((found.year_text::integer - (year(today) - 50)) % 100 + 100) % 100
                end
            }],
            lambda parsed: list_transform(
                [{
                    'text': parsed.text,
                    'matched': parsed.matched,
                    'month': parsed.month,
                    'day': parsed.day,
                    'year': parsed.year,
                    'exists': parsed.matched
                        and parsed.month between 1 and 12
                        and parsed.day between 1 and day(last_day(
                            make_date(parsed.year, least(greatest(parsed.month, 1), 12), 1)
                        )),
                    'date': make_date(parsed.year, least(greatest(parsed.month, 1), 12), 1)
                        + (least(greatest(parsed.day, 1), 31) - 1)
                }],
                lambda checked: {
                    'value': case
                        when checked.text is null or not checked.exists then null
                        when kind = 'birth'
                            and checked.date between date '1900-01-01' and today
                            then checked.date
                        when kind = 'term'
                            and checked.date between today - interval 50 year
                                and today + interval 50 year
                            then checked.date
                    end::date,
                    'problem': case
                        when kind not in ('birth', 'term')
                            then error('rs_date: kind must be birth or term, not ' || kind)
                        when checked.text is null then null
                        when not checked.matched
                            then 'not a date: rostersync reads YYYY-MM-DD, M/D/YYYY, '
                                || 'YYYY/M/D and M/D/YY'
                        when not checked.exists
                            then 'no such date (year ' || checked.year || ', month '
                                || checked.month || ', day ' || checked.day || ')'
                        when kind = 'birth' and checked.date > today
                            then 'a birth date in the future (read as ' || checked.date || ')'
                        when kind = 'birth' and checked.date < date '1900-01-01'
                            then 'a birth date before 1900 (read as ' || checked.date || ')'
                        when kind = 'term'
                            and checked.date not between today - interval 50 year
                                and today + interval 50 year
                            then 'more than 50 years from the run''s date (read as '
                                || checked.date || ')'
                    end
                }
            )[1]
        )[1]
    )[1]
)[1]
