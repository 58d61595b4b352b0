"""What CloudGreet keeps on record: SQLModel tables, the engine, Alembic migrations."""
