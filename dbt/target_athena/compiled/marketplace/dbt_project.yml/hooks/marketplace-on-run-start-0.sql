
  
  select 1
