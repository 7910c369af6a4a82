"""The API's .env file: read as Node's dotenv reads it, and judged against the env schema."""
