# One image for web and workers; the command picks the role (see docker-compose.yml).
FROM node:20-bookworm-slim AS frontend
WORKDIR /app/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm AS app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt django-storages[s3]==1.14.6
COPY . .
COPY --from=frontend /app/frontend/dist ./frontend/dist
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput -v 0
RUN useradd --create-home --uid 1000 vmb && mkdir -p /app/var && chown -R vmb /app/var
USER vmb
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "config.asgi:application"]
