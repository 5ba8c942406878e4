app_name = "viewer"

urlpatterns: list = []
