using PublishingPoint.Server.Configuration;
using PublishingPoint.Server.Hosting;
using PublishingPoint.Server.Ingest;

namespace PublishingPoint.Server.Admin;

/// <summary>
/// The operator credential for /api, /metrics and the OpenAPI document: the AdminApiKey as an X-Api-Key header or as
/// the basic auth password. With no key configured, only direct loopback clients are let in: not a request that came
/// through a proxy (it carries forwarding headers), whatever address the proxy connected from. State-changing requests
/// also carry the X-Api-Key header or a JSON body, which a cross-site form or image cannot send without a preflight.
/// </summary>
/// <remarks>
/// An endpoint carries an instance as metadata and <see cref="GateAsync"/> runs it after routing, before the endpoint:
/// an endpoint filter would run only after the endpoint bound its parameters, so a JSON body would have been read and
/// parsed for anyone. The operator's bodies are small; past <see cref="MaxBodyBytes"/> they are refused (413).
/// </remarks>
internal sealed class AdminAuthorization(string? apiKey)
{
    private readonly string? _apiKey = apiKey;

    /// <summary>The largest request body an operator route reads (a point's settings, a clip's times).</summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>Middleware after routing: refuses a request for an operator endpoint without the credential, unread.</summary>
    public static Task GateAsync(HttpContext context, RequestDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (context.GetEndpoint()?.Metadata.GetMetadata<AdminAuthorization>() is not { } gate)
        {
            return next(context);
        }

        if (!Allowed(context, gate._apiKey, out var status))
        {
            if (status == StatusCodes.Status401Unauthorized)
            {
                context.Response.Headers.WWWAuthenticate = "Basic realm=\"PublishingPoint operator\"";
            }

            return Problems.WriteAsync(context, status, status switch
            {
                StatusCodes.Status401Unauthorized => "operator credential required",
                StatusCodes.Status429TooManyRequests => WrongSecrets.Refusal,
                _ => "operator credential refused",
            });
        }

        if (!SafeFromCrossSite(context.Request))
        {
            return Problems.WriteAsync(context, StatusCodes.Status403Forbidden, "a state change needs the X-Api-Key header or Content-Type: application/json");
        }

        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }

        return next(context);
    }

    public static bool Allowed(HttpContext context, string? apiKey, out int status)
    {
        ArgumentNullException.ThrowIfNull(context);
        status = StatusCodes.Status200OK;
        if (string.IsNullOrEmpty(apiKey))
        {
            if (ClientNetwork.IsDirectLoopback(context))
            {
                return true;
            }

            status = StatusCodes.Status403Forbidden;
            return false;
        }

        var presented = context.Request.Headers["X-Api-Key"].ToString();
        if (presented.Length == 0)
        {
            presented = IngestAuthorization.BasicPassword(context) ?? string.Empty;
        }

        if (presented.Length == 0)
        {
            status = StatusCodes.Status401Unauthorized;
            return false;
        }

        return WrongSecrets.Check(context, presented, apiKey, WrongSecrets.Operator, out status);
    }

    private static bool SafeFromCrossSite(HttpRequest request)
    {
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method))
        {
            return true;
        }

        return request.Headers.ContainsKey("X-Api-Key")
            || (request.ContentType is { } type && type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase));
    }
}
