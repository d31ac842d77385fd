-- docker-compose only: one database per service on the shared PostgreSQL container.
CREATE DATABASE users;
CREATE DATABASE inference;
