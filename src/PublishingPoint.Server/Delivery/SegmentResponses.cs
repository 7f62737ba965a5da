using System.Globalization;
using Microsoft.Net.Http.Headers;
using PublishingPoint.Server.Hosting;

namespace PublishingPoint.Server.Delivery;

/// <summary>HTTP details of segment responses: one byte range (RFC 9110 14.2), read with the framework's Range type.</summary>
internal static class SegmentResponses
{
    /// <summary>The whole segment, or one byte range of it (206; 416 when it lies outside).</summary>
    public static Task SegmentAsync(HttpContext context, string contentType, byte[] bytes) =>
        SegmentAsync(context, contentType, new ReadySegment(Points.FragmentBuffer.Wrap(bytes), null));

    /// <summary>The same for a produced segment, from its bytes or its file copy.</summary>
    public static Task SegmentAsync(HttpContext context, string contentType, ReadySegment segment)
    {
        var response = context.Response;
        response.Headers.AcceptRanges = "bytes";
        var length = segment.Length;
        var header = context.Request.Headers.Range;
        var ranged = header.Count > 0 ? Requested(header.ToString(), length) : null;
        var (from, to) = ranged ?? (0, length - 1);
        if (from > to)
        {
            response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes */{length}");
            return Problems.WriteAsync(context, StatusCodes.Status416RangeNotSatisfiable, "range not satisfiable");
        }

        var count = (int)(to - from + 1);
        response.ContentType = contentType;
        response.ContentLength = count;
        if (ranged is null)
        {
            response.StatusCode = StatusCodes.Status200OK;
        }
        else
        {
            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {from}-{to}/{length}");
        }

        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask
            : segment.Buffer is { } buffer ? Transport.DirectSend.WriteBodyAsync(context, buffer.Array.AsMemory((int)from, count))
            : Transport.DirectSend.WriteFileAsync(context, segment.File!, from, count);
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
