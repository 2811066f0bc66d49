"""The shapes of the imports API: an upload in, an import out."""

from rest_framework import serializers

from dsrs.models import Import


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="The DSR file (.tsv or .tsv.gz), named "
        "{DSP}_{Service}[_{Society}]_{Territory}_{Currency}_{YYYYMMDD}-{YYYYMMDD}.tsv[.gz]."
    )
    replace = serializers.BooleanField(
        default=False,
        help_text="Swap an ingested DSR of the same DSP, service, society, territory and period for this file.",
    )


class ImportSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=Import.Status.values)
    dsr = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text="The DSR it made (or found ingested, when skipped)."
    )
    lines_read = serializers.IntegerField(help_text="Lines read so far, while running; all of them once finished.")
    bytes_read = serializers.IntegerField(help_text="Bytes of the file read so far (compressed, for .gz).")
    file_size = serializers.IntegerField(help_text="In bytes, as uploaded.")
    message = serializers.CharField(help_text="The outcome, or why it failed or was refused.")

    class Meta:
        model = Import
        fields = [
            "id",
            "file_name",
            "replace",
            "status",
            "lines_read",
            "bytes_read",
            "file_size",
            "dsr",
            "message",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class ImportPageSerializer(serializers.Serializer):
    """A page of GET /imports/ (DRF's PageNumberPagination)."""

    count = serializers.IntegerField(help_text="Imports in all.")
    next = serializers.URLField(allow_null=True, help_text="The next page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, if any.")
    results = ImportSerializer(many=True)
