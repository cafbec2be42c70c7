-- Every incoming person the roster can hold: core.users' students and educators and
-- core.guardians (role 'guardian'), in core.users' columns. A guardian has no state id,
-- student number, birth date, grade, primary school or programs: guardians are linked to their
-- students (sync.plan_guardian_relationships), not to schools. Matching, the user checks and
-- plan_users read this, so a guardian is matched, checked and planned like any person but only
-- against the app's guardians (match keys are per entity: 'guardians').
select * from core.users

union all by name

select
    guardians.*,
    'guardian' as role,
    []::varchar[] as grade_values,
    []::varchar[] as program_names
from core.guardians as guardians
