with unioned as (
    -- every provider's staging model for this entity (see dbt_like_sql/README.md)
    {{ union_staging('users') }}
),

numbered as materialized (
    -- a record without an id (MISSING_SOURCE_ID at landing) is not imported; the copies of an
    -- id are counted and ranked in one pass, the last (by file and row) first
    select
        *,
        count(*) over (partition by user_source_id) as copy_count,
        row_number() over (
            partition by user_source_id order by source_file desc, source_row desc
        ) as copy_rank
    from unioned
    where nullif(trim(user_source_id), '') is not null
),

copies as (
    -- the copies of a source id listed more than once, each with a hash of its data
    select
        user_source_id,
        source_file,
        source_row,
        hash(*columns(* exclude (
            provider, invalid_values, source_file, source_row, copy_count, copy_rank
        ))) as content_hash
    from numbered
    where copy_count > 1
),

conflicting as (
    -- a source id listed more than once with different data: every copy, in file order
    -- (DUPLICATE_SOURCE_ID, none is imported). Identical copies are one record.
    select
        user_source_id,
        list(
            {'source_file': source_file, 'source_row': source_row}
            order by source_file, source_row
        ) as conflicting_copies
    from copies
    group by user_source_id
    having count(distinct content_hash) > 1
),

final as (
    -- one row per source id: the last copy
    select
        numbered.* exclude (copy_count, copy_rank),
        coalesce(
            conflicting.conflicting_copies,
            []::struct(source_file varchar, source_row bigint)[]
        ) as conflicting_copies
    from numbered
    left join conflicting on conflicting.user_source_id = numbered.user_source_id
    where numbered.copy_rank = 1
)

select * from final
