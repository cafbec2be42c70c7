with sections as (
    select * from intermediate.int_sections_unioned
),

courses as (
    select * from intermediate.int_courses_unioned
),

terms as (
    select * from intermediate.int_terms_unioned
),

final as (
    select
        sections.section_source_id,
        sections.sis_id,
        sections.section_name,
        sections.school_source_id,
        sections.course_source_id,
        courses.course_name,
        sections.term_source_id,
        terms.term_name,
        sections.subject,
        sections.is_deleted,
        sections.provider,
        sections.invalid_values,
        sections.conflicting_copies,
        sections.source_file,
        sections.source_row
    from sections
    left join courses on courses.course_source_id = sections.course_source_id
    left join terms on terms.term_source_id = sections.term_source_id
)

select * from final
