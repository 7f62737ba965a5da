using Microsoft.AspNetCore.Cors.Infrastructure;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// CORS for everything players load (manifests, playlists, MPDs, segments, fragments, the clock, and the errors of
/// those routes), through ASP.NET Core's CORS middleware with one policy from PublishingPoint:CorsOrigins. With the
/// default "*", an answer to a request without an Origin header carries Access-Control-Allow-Origin: * as well, so a
/// CDN that cached it for one client can hand it to a browser on any page.
/// </summary>
internal sealed class DeliveryCors(RequestDelegate next, Microsoft.Extensions.Options.IOptions<Configuration.PublishingPointOptions> options)
{
    private readonly bool _anyOrigin = AllowsAnyOrigin(options.Value);

    public const string Policy = "delivery";

    public static bool AllowsAnyOrigin(Configuration.PublishingPointOptions options) => options.CorsOrigins.Count == 0 || options.CorsOrigins.Contains("*");

    public static void Configure(CorsPolicyBuilder policy, string[] origins)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (origins.Length == 0 || origins.Contains("*"))
        {
            policy.AllowAnyOrigin();
        }
        else
        {
            policy.WithOrigins(origins);
        }

        policy.WithMethods(HttpMethods.Get, HttpMethods.Head)
            .AllowAnyHeader()
            .WithExposedHeaders("Content-Length", "Content-Range", "Accept-Ranges", "ETag", "Date", "Age")
            .SetPreflightMaxAge(TimeSpan.FromDays(1));
    }

    public Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<ICorsMetadata>() is null)
        {
            return next(context);
        }

        if (_anyOrigin)
        {
            if (!context.Request.Headers.ContainsKey("Origin"))
            {
                context.Response.Headers.AccessControlAllowOrigin = "*";
            }
        }
        else
        {
            // The answer depends on the Origin (allowed or not): caches must keep one copy per origin.
            context.Response.OnStarting(static state =>
            {
                var headers = ((HttpResponse)state).Headers;
                if (!headers.Vary.Any(v => v?.Contains("Origin", StringComparison.OrdinalIgnoreCase) == true))
                {
                    headers.Append("Vary", "Origin");
                }

                return Task.CompletedTask;
            }, context.Response);
        }

        return next(context);
    }
}
