using System.Net;
using System.Security.Cryptography;
using System.Text;
using PublishingPoint.Server.Ingest;

namespace PublishingPoint.Server.Admin;

/// <summary>
/// The operator credential for /api and the dashboard: the AdminApiKey as an X-Api-Key header or as the basic
/// auth password. With no key configured, only clients on the loopback interface are let in.
/// </summary>
internal sealed class AdminAuthorization(string? apiKey) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        return Allowed(context.HttpContext, apiKey, out var status)
            ? await next(context).ConfigureAwait(false)
            : Results.Problem(statusCode: status, title: status == StatusCodes.Status401Unauthorized ? "operator credential required" : "operator credential refused");
    }

    public static bool Allowed(HttpContext context, string? apiKey, out int status)
    {
        status = StatusCodes.Status200OK;
        if (string.IsNullOrEmpty(apiKey))
        {
            if (context.Connection.RemoteIpAddress is { } remote && IPAddress.IsLoopback(remote))
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
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"PublishingPoint operator\"";
            status = StatusCodes.Status401Unauthorized;
            return false;
        }

        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(apiKey)))
        {
            status = StatusCodes.Status403Forbidden;
            return false;
        }

        return true;
    }
}
