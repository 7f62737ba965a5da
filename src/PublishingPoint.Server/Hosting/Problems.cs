using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Hosting;

/// <summary>
/// The one way every part of the server refuses a request: an RFC 9457 problem (application/problem+json, with a
/// Content-Length) with the status and a detail safe to send back. Never cached.
/// </summary>
public static class Problems
{
    private static readonly JsonSerializerOptions _json = new(JsonSerializerDefaults.Web);

    public static Task WriteAsync(HttpContext context, int status, string detail)
    {
        ArgumentNullException.ThrowIfNull(context);
        var response = context.Response;
        response.StatusCode = status;
        response.Headers.CacheControl = "no-cache";
        var bytes = JsonSerializer.SerializeToUtf8Bytes(new ProblemDetails { Status = status, Title = ReasonPhrases.GetReasonPhrase(status), Detail = detail }, _json);
        response.ContentType = "application/problem+json";
        response.ContentLength = bytes.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(bytes, context.RequestAborted).AsTask();
    }

    public static Task WriteAsync(HttpContext context, PointRuleException refused)
    {
        ArgumentNullException.ThrowIfNull(refused);
        return WriteAsync(context, refused.StatusCode, refused.Message);
    }

    /// <summary>The same problem as an endpoint result (minimal APIs).</summary>
    public static ProblemHttpResult Result(int status, string detail) => TypedResults.Problem(detail, statusCode: status, title: ReasonPhrases.GetReasonPhrase(status));

    public static ProblemHttpResult Result(PointRuleException refused)
    {
        ArgumentNullException.ThrowIfNull(refused);
        return Result(refused.StatusCode, refused.Message);
    }
}
