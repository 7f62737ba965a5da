using System.Globalization;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>HTTP details of HLS segment responses: single byte ranges.</summary>
internal static class HlsResponses
{
    /// <summary>The whole segment, or one byte range of it (206; 416 when it lies outside).</summary>
    public static Task SegmentAsync(HttpContext context, string contentType, byte[] bytes, Transport.SpooledFile? file = null)
    {
        var response = context.Response;
        response.Headers.AcceptRanges = "bytes";
        var range = context.Request.Headers.Range.ToString();
        if (range.Length == 0)
        {
            return Responses.BytesAsync(context, contentType, bytes, file);
        }

        if (!TryParseRange(range, bytes.Length, out var from, out var to))
        {
            response.Headers.ContentRange = $"bytes */{bytes.Length}";
            return Responses.ProblemAsync(context, StatusCodes.Status416RangeNotSatisfiable, "range not satisfiable");
        }

        response.StatusCode = StatusCodes.Status206PartialContent;
        response.ContentType = contentType;
        response.ContentLength = to - from + 1;
        response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {from}-{to}/{bytes.Length}");
        return HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : Transport.DirectSend.WriteBodyAsync(context, bytes.AsMemory((int)from, (int)(to - from + 1)), file, from);
    }

    // One range only ("bytes=a-b", "bytes=a-", "bytes=-n"); players never ask for several.
    internal static bool TryParseRange(string header, long length, out long from, out long to)
    {
        from = to = 0;
        if (!header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) || header.Contains(',', StringComparison.Ordinal))
        {
            return false;
        }

        var spec = header.AsSpan(6).Trim();
        var dash = spec.IndexOf('-');
        if (dash < 0)
        {
            return false;
        }

        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.IsEmpty)
        {
            if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var suffix) || suffix == 0 || length == 0)
            {
                return false;
            }

            from = Math.Max(0, length - suffix);
            to = length - 1;
            return true;
        }

        if (!long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out from) || from >= length)
        {
            return false;
        }

        if (last.IsEmpty)
        {
            to = length - 1;
            return true;
        }

        if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out to) || to < from)
        {
            return false;
        }

        to = Math.Min(to, length - 1);
        return true;
    }
}
