-- ISCO-08 unit groups (4-digit) with their sub-major (2-digit, the "job family") and major group.
with isco as (
    select
        isco_code,
        isco_label,
        isco_level
    from {{ ref('esco_isco_groups') }}
)

select
    unit_group.isco_code as isco_unit_group_code,
    unit_group.isco_label as isco_unit_group_label,
    sub_major.isco_code as job_family_code,
    sub_major.isco_label as job_family,
    major.isco_code as major_group_code,
    major.isco_label as major_group
from isco as unit_group
left join isco as sub_major
    on sub_major.isco_level = 2 and sub_major.isco_code = substr(unit_group.isco_code, 1, 2)
left join isco as major
    on major.isco_level = 1 and major.isco_code = substr(unit_group.isco_code, 1, 1)
where unit_group.isco_level = 4
