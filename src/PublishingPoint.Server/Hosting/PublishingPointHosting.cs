using Microsoft.Extensions.Options;
using PublishingPoint.Server.Archive;
using PublishingPoint.Server.Delivery.Hls;
using PublishingPoint.Server.Delivery.Smooth;
using PublishingPoint.Server.Ingest.Smooth;
using PublishingPoint.Server.Points;
using Serilog;

namespace PublishingPoint.Server.Hosting;

public static class PublishingPointHosting
{
    /// <summary>Builds the server: the top-level appsettings.json, Serilog, and every publishing-point service.</summary>
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        var logger = new LoggerConfiguration().ReadFrom.Configuration(builder.Configuration).CreateLogger();
        builder.Logging.ClearProviders();
        builder.Logging.AddSerilog(logger, dispose: true);
        builder.Services.AddPublishingPoints(builder.Configuration);
        var app = builder.Build();
        app.MapPublishingPoints();
        return app;
    }

    public static IServiceCollection AddPublishingPoints(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PublishingPointOptions>().Bind(configuration.GetSection(PublishingPointOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PublishingPointOptions>, PublishingPointOptionsValidator>();
        services.AddSingleton<PointFinalizer>();
        services.AddSingleton<PointRegistry>();
        services.AddSingleton<SmoothIngestEndpoint>();
        services.AddSingleton<SmoothDelivery>();
        services.AddSingleton<HlsSegmentCache>();
        services.AddSingleton<HlsDelivery>();
        services.AddSingleton<PointRequestRouter>();
        services.AddHostedService<ArchiveRecovery>();
        return services;
    }

    public static IEndpointRouteBuilder MapPublishingPoints(this IEndpointRouteBuilder endpoints)
    {
        var router = endpoints.ServiceProvider.GetRequiredService<PointRequestRouter>();
        endpoints.MapMethods("/{**path}", [HttpMethods.Get, HttpMethods.Head, HttpMethods.Post], router.HandleAsync);
        return endpoints;
    }
}
