with unioned as (
    -- every provider's staging model for this entity (see dbt_like_sql/README.md)
    {{ union_staging('sections') }}
),

identified as materialized (
    -- a record without an id (MISSING_SOURCE_ID at landing) is not imported
    select * from unioned
    where nullif(trim(section_source_id), '') is not null
),

repeated as materialized (
    -- the source ids listed more than once: only their copies are ranked and compared, so the
    -- usual landing (every id once) costs one hash aggregate and no sort
    select section_source_id
    from identified
    group by section_source_id
    having count(*) > 1
),

copies as materialized (
    -- every copy of a repeated id, the last (by file and row) first, with a hash of its data
    select
        *,
        row_number() over (
            partition by section_source_id order by source_file desc, source_row desc
        ) as copy_rank,
        hash(*columns(* exclude (provider, invalid_values, source_file, source_row)))
            as content_hash
    from identified
    semi join repeated using (section_source_id)
),

conflicting as (
    -- a source id listed more than once with different data: every copy, in file order
    -- (DUPLICATE_SOURCE_ID, none is imported). Identical copies are one record.
    select
        section_source_id,
        list(
            {'source_file': source_file, 'source_row': source_row}
            order by source_file, source_row
        ) as conflicting_copies
    from copies
    group by section_source_id
    having count(distinct content_hash) > 1
),

one_per_id as (
    -- one row per source id: the only copy, or the last one
    select
        *,
        []::struct(source_file varchar, source_row bigint)[] as conflicting_copies
    from identified
    anti join repeated using (section_source_id)
    union all by name
    select
        copies.* exclude (copy_rank, content_hash),
        coalesce(
            conflicting.conflicting_copies,
            []::struct(source_file varchar, source_row bigint)[]
        ) as conflicting_copies
    from copies
    left join conflicting on conflicting.section_source_id = copies.section_source_id
    where copies.copy_rank = 1
)

select * from one_per_id
