-- The schema of the example in deno_test_example_test.ts.
create table customers (
  id serial primary key,
  name text not null unique
);
create table orders (
  id serial primary key,
  customer_id int not null references customers(id),
  total numeric(10, 2) not null check (total >= 0)
);
insert into customers(name) values ('Ada'), ('Grace');
