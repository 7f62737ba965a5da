using System.Globalization;
using Microsoft.Net.Http.Headers;
using PublishingPoint.Server.Hosting;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>HTTP details of segment responses: one byte range (RFC 9110 14.2), read with the framework's Range type.</summary>
internal static class HlsResponses
{
    /// <summary>The whole segment, or one byte range of it (206; 416 when it lies outside).</summary>
    public static Task SegmentAsync(HttpContext context, string contentType, byte[] bytes, Transport.SpooledFile? file = null)
    {
        var response = context.Response;
        response.Headers.AcceptRanges = "bytes";
        var header = context.Request.Headers.Range;
        if (header.Count == 0 || Requested(header.ToString(), bytes.Length) is not { } requested)
        {
            return Responses.BytesAsync(context, contentType, bytes, file);
        }

        var (from, to) = requested;
        if (from > to)
        {
            response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes */{bytes.Length}");
            return Problems.WriteAsync(context, StatusCodes.Status416RangeNotSatisfiable, "range not satisfiable");
        }

        response.StatusCode = StatusCodes.Status206PartialContent;
        response.ContentType = contentType;
        response.ContentLength = to - from + 1;
        response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {from}-{to}/{bytes.Length}");
        return HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : Transport.DirectSend.WriteBodyAsync(context, bytes.AsMemory((int)from, (int)(to - from + 1)), file, from);
    }

    /// <summary>
    /// Null to answer the whole body (no usable Range: another unit, bad syntax, several ranges, which a server may
    /// ignore); an empty range (from > to) to answer 416; else the one range, clipped to the body.
    /// </summary>
    internal static (long From, long To)? Requested(string header, long length)
    {
        if (!RangeHeaderValue.TryParse(header, out var range) || !"bytes".Equals(range.Unit.Value, StringComparison.OrdinalIgnoreCase) || range.Ranges.Count != 1)
        {
            return null;
        }

        var item = range.Ranges.First();
        if (item.From is null)
        {
            // suffix: the last n bytes
            return item.To is > 0 && length > 0 ? (Math.Max(0, length - item.To.Value), length - 1) : (1, 0);
        }

        var from = item.From.Value;
        return from >= length ? (1, 0) : (from, Math.Min(item.To ?? length - 1, length - 1));
    }
}
